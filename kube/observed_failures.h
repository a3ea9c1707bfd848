// The webhook calls the API server made for real and that failed, as the
// controllers recorded them: core/v1 Events with reason FailedCreate whose
// message is the API server's `failed calling webhook "NAME": ...` (read by
// parse_webhook_call_error into the catalogue). Counted since this process
// started, an Event's `count` increments included, without counting twice
// what a later list shows again. Pure: the caller lists the events.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "kube/client/objects.h"
#include "probes/diagnosis.h"
#include "probes/result.h"

namespace meshprobe::kube {

// One FailedCreate event whose message is a webhook call failure.
struct ObservedFailure {
  std::string object;  // "ReplicaSet NS/NAME": whose create failed
  std::string webhook;
  Diagnosis diagnosis = Diagnosis::kubernetes_api_error;
  std::string time;                         // the event's lastTimestamp, RFC 3339 as written
  std::optional<WallClock::time_point> at;  // `time`, parsed
  std::int64_t count = 1;                   // times the controller saw it fail
  std::string message;                      // the API server's words, verbatim
};

// nullopt for an event that is not a FailedCreate of a webhook call.
std::optional<ObservedFailure> observed_failure(const Event& event);

struct ObservedFailureCount {
  std::string webhook;
  Diagnosis diagnosis = Diagnosis::kubernetes_api_error;
  std::uint64_t failures = 0;
  bool operator==(const ObservedFailureCount&) const = default;
};

// What outputs show: the counters, the last few, and every failure the last
// list held (for the webhook verdicts' window).
struct ObservedFailures {
  bool read = false;                         // the events were listed at least once
  std::string error;                         // why the last list failed (e.g. the RBAC it needs)
  std::vector<ObservedFailureCount> totals;  // by webhook, then diagnosis
  std::vector<ObservedFailure> recent;       // the newest first, at most kRecentFailures
  std::vector<ObservedFailure> listed;       // the newest first
};

inline constexpr std::size_t kRecentFailures = 5;
// Distinct (webhook, diagnosis) counters kept; later pairs are folded into
// webhook "other" so the metric's labels stay bounded.
inline constexpr std::size_t kMaxFailureSeries = 64;
inline constexpr std::string_view kOtherWebhook = "other";

class ObservedFailureLog {
 public:
  // One complete list of the FailedCreate events. An event seen before adds
  // only the growth of its count; one not seen before adds its count.
  void record(std::span<const Event> events);
  // The last list failed: the counters stay, the error is shown.
  void record_error(std::string error);

  const ObservedFailures& failures() const { return failures_; }

 private:
  std::map<std::string, std::int64_t> counts_;  // by event uid (or namespace/name)
  std::map<std::pair<std::string, Diagnosis>, std::uint64_t> totals_;
  ObservedFailures failures_;
};

// The failures of `webhook` whose time is within `window` before `now`,
// newest first.
std::vector<ObservedFailure> failures_of(const ObservedFailures& failures,
                                         const std::string& webhook, WallClock::time_point now,
                                         std::chrono::seconds window);

// "3 ReplicaSets failed to create pods in the last hour, all with
// webhook_timeout (the last: ReplicaSet shop/cart-7d9 at 2026-...: `...`)".
// Empty for none.
std::string observed_failures_text(std::span<const ObservedFailure> failures);

}  // namespace meshprobe::kube
