// Runs every target once per interval on the agent's io_context. Each target
// gets a stable offset inside its interval (from a hash of the node and
// target names) plus a little jitter per round, so a fleet of agents spreads
// its load on istiod instead of probing it in lock-step. A target never
// overlaps itself (a round still running when the next is due is skipped and
// counted), and at most `max_concurrency` probes run at once.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "agent/targets/spec.h"
#include "probes/result.h"

namespace boost::asio {
class io_context;
}

namespace meshprobe {

class Prober;

// Where in [0, interval) a target's rounds fall, stable for a seed and name.
std::chrono::nanoseconds stable_offset(std::string_view seed, std::string_view name,
                                       std::chrono::nanoseconds interval);

// The largest jitter applied to a round: 5% of the interval, at most 1 s.
std::chrono::nanoseconds max_jitter(std::chrono::nanoseconds interval);

struct SchedulerEvents {
  std::function<void(const std::string& target, std::vector<ProbeResult>)> round_done;
  std::function<void(const std::string& target)> round_skipped;
  std::function<void(double seconds)> started_late;  // start time minus due time
  std::function<void(int probes)> in_flight_changed;
};

class Scheduler {
 public:
  // `jitter_seed` seeds the per-round jitter; unset, it comes from
  // std::random_device (tests pass one to fix the rounds).
  Scheduler(boost::asio::io_context& io, Prober& prober, std::string seed, int max_concurrency,
            SchedulerEvents events, std::optional<std::uint64_t> jitter_seed = std::nullopt);
  ~Scheduler();
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  // Replaces the target set. A target whose name, URL and interval stay keeps
  // its place in the schedule (and a probe in flight keeps running).
  void set_targets(const std::vector<TargetSpec>& specs);

  // Cancels timers and probes in flight; their completions still run, and
  // report nothing. Keep the io_context running until in_flight() is 0.
  void stop();

  int in_flight() const;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace meshprobe
