#include "kube/observed_failures.h"

#include <algorithm>
#include <set>

#include "kube/client/exec_plugin.h"
#include "kube/webhook_call_error.h"

namespace meshprobe::kube {
namespace {

constexpr std::string_view kFailedCreate = "FailedCreate";

std::string event_key(const Event& event) {
  return event.uid.empty() ? event.ns + "/" + event.name : event.uid;
}

// Newest first; failures without a time last, then by object for a stable order.
bool newer(const ObservedFailure& a, const ObservedFailure& b) {
  if (a.at != b.at) {
    if (!a.at) return false;
    if (!b.at) return true;
    return *a.at > *b.at;
  }
  return a.object < b.object;
}

std::string plural(std::size_t n, const std::string& noun) {
  return std::to_string(n) + " " + noun + (n == 1 ? "" : "s");
}

}  // namespace

std::optional<ObservedFailure> observed_failure(const Event& event) {
  if (event.reason != kFailedCreate) return std::nullopt;
  auto call = parse_webhook_call_error(event.message);
  if (!call) return std::nullopt;
  ObservedFailure failure;
  failure.object = (event.involved_kind.empty() ? std::string("object") : event.involved_kind) +
                   " " + (event.involved_ns.empty() ? event.ns : event.involved_ns) + "/" +
                   event.involved_name;
  failure.webhook = std::move(call->webhook);
  failure.diagnosis = call->diagnosis;
  failure.time = event.last_timestamp;
  failure.at = parse_rfc3339(event.last_timestamp);
  failure.count = std::max<std::int64_t>(event.count, 1);
  failure.message = event.message;
  return failure;
}

void ObservedFailureLog::record(std::span<const Event> events) {
  std::map<std::string, std::int64_t> counts;
  std::vector<ObservedFailure> listed;
  for (const Event& event : events) {
    auto failure = observed_failure(event);
    if (!failure) continue;
    const std::string key = event_key(event);
    const auto before = counts_.find(key);
    const std::int64_t seen = before == counts_.end() ? 0 : before->second;
    // A count that went down is a new Event under an old name: count it whole.
    const std::int64_t added = failure->count >= seen ? failure->count - seen : failure->count;
    if (added > 0) {
      auto series = std::make_pair(failure->webhook, failure->diagnosis);
      if (!totals_.contains(series) && totals_.size() >= kMaxFailureSeries) {
        series.first = std::string(kOtherWebhook);
      }
      totals_[series] += static_cast<std::uint64_t>(added);
    }
    counts[key] = failure->count;
    listed.push_back(std::move(*failure));
  }
  // Events that expired are gone from the list; forgetting them keeps the
  // map as small as the list.
  counts_ = std::move(counts);
  std::ranges::sort(listed, newer);
  failures_.read = true;
  failures_.error.clear();
  failures_.totals.clear();
  for (const auto& [series, count] : totals_) {
    failures_.totals.push_back({series.first, series.second, count});
  }
  failures_.recent.assign(listed.begin(),
                          listed.begin() + std::min(listed.size(), kRecentFailures));
  failures_.listed = std::move(listed);
}

void ObservedFailureLog::record_error(std::string error) { failures_.error = std::move(error); }

std::vector<ObservedFailure> failures_of(const ObservedFailures& failures,
                                         const std::string& webhook, WallClock::time_point now,
                                         std::chrono::seconds window) {
  std::vector<ObservedFailure> out;
  for (const ObservedFailure& failure : failures.listed) {
    if (failure.webhook != webhook || !failure.at) continue;
    if (*failure.at + window < now) continue;
    out.push_back(failure);
  }
  return out;
}

std::string observed_failures_text(std::span<const ObservedFailure> failures) {
  if (failures.empty()) return {};
  std::set<std::string> objects;
  std::set<std::string> kinds;
  std::map<Diagnosis, std::set<std::string>> by_diagnosis;
  for (const ObservedFailure& failure : failures) {
    objects.insert(failure.object);
    kinds.insert(failure.object.substr(0, failure.object.find(' ')));
    by_diagnosis[failure.diagnosis].insert(failure.object);
  }
  std::string out = plural(objects.size(), kinds.size() == 1 ? *kinds.begin() : "controller") +
                    " failed to create pods in the last hour";
  if (by_diagnosis.size() == 1) {
    out += objects.size() == 1 ? " with " : ", all with ";
    out += code(by_diagnosis.begin()->first);
  } else {
    out += " (";
    bool first = true;
    for (const auto& [diagnosis, named] : by_diagnosis) {
      if (!first) out += ", ";
      first = false;
      out += std::to_string(named.size()) + " with " + std::string(code(diagnosis));
    }
    out += ")";
  }
  const ObservedFailure& last = failures.front();
  out += "; the last: " + last.object + " at " + last.time + ": `" + last.message + "`";
  return out;
}

}  // namespace meshprobe::kube
