// What the agent knows: the last result per target and address, a short
// history, streaks and flaps. Single-threaded: owned by the io_context thread.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "agent/targets/spec.h"
#include "probes/result.h"
#include "probes/target.h"

namespace meshprobe {

inline constexpr std::size_t kHistoryLength = 30;

// 16 bytes: an agent keeps kHistoryLength of these per address, 300,000 at
// 10,000 targets.
struct HistoryEntry {
  HistoryEntry(WallClock::time_point when, bool ok, Diagnosis what, Duration took);

  WallClock::time_point at;
  bool success = false;
  Diagnosis diagnosis() const { return static_cast<Diagnosis>(diagnosis_); }
  Duration duration() const { return std::chrono::microseconds(duration_us_); }

 private:
  std::uint8_t diagnosis_;
  std::uint32_t duration_us_;  // probes end at their timeout: 71 minutes fit
};

struct AddressState {
  ProbeResult last;
  std::optional<WallClock::time_point> last_success;
  std::vector<HistoryEntry> history;  // oldest first, at most kHistoryLength
  std::uint64_t consecutive_successes = 0;
  std::uint64_t consecutive_failures = 0;
  std::uint64_t transitions = 0;  // ok <-> failing flips
  std::uint64_t probes = 0;
};

struct TargetState {
  std::shared_ptr<const Target> target;
  std::chrono::milliseconds interval{};
  std::map<std::string, AddressState> addresses;  // by address ("" when resolution failed)
  std::uint64_t rounds = 0;
  std::uint64_t skipped = 0;  // rounds not started: the previous one was still running
  // Every finished probe (one per address per round), indexed by Diagnosis.
  std::array<std::uint64_t, std::size(kAllDiagnoses)> probes_by_diagnosis{};
};

class ResultsStore {
 public:
  // Replaces the target set, in order. State survives for names that stay;
  // a target whose URL changed starts afresh.
  void set_targets(const std::vector<TargetSpec>& specs);

  // Records one round of a target: one result per address. Addresses missing
  // from the round (the name now resolves elsewhere, or not at all) are
  // dropped and returned, so their series can be removed too.
  std::vector<std::string> record_round(const std::string& target_name,
                                        std::vector<ProbeResult> results);

  void record_skip(const std::string& target_name);

  const std::vector<TargetState>& targets() const { return targets_; }
  const TargetState* find(const std::string& target_name) const;

  // Every target has finished at least one round.
  bool first_round_complete() const;

 private:
  TargetState* find_mutable(const std::string& target_name);
  std::vector<TargetState> targets_;
  std::unordered_map<std::string, std::size_t> index_;  // name -> position
};

}  // namespace meshprobe
