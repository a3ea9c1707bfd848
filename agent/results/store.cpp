#include "agent/results/store.h"

#include <algorithm>
#include <limits>
#include <set>

namespace meshprobe {

static_assert(sizeof(HistoryEntry) == 16);
static_assert(std::size(kAllDiagnoses) <= 256, "a diagnosis fits HistoryEntry's byte");

HistoryEntry::HistoryEntry(WallClock::time_point when, bool ok, Diagnosis what, Duration took)
    : at(when),
      success(ok),
      diagnosis_(static_cast<std::uint8_t>(what)),
      duration_us_(static_cast<std::uint32_t>(std::clamp<std::int64_t>(
          std::chrono::duration_cast<std::chrono::microseconds>(took).count(), 0,
          std::numeric_limits<std::uint32_t>::max()))) {}

void ResultsStore::set_targets(const std::vector<TargetSpec>& specs) {
  std::vector<TargetState> next;
  next.reserve(specs.size());
  for (const TargetSpec& spec : specs) {
    TargetState state;
    if (TargetState* old = find_mutable(spec.target->name);
        old != nullptr && old->target->url == spec.target->url) {
      state = std::move(*old);
    }
    state.target = spec.target;
    state.interval = spec.interval;
    next.push_back(std::move(state));
  }
  targets_ = std::move(next);
  index_.clear();
  for (std::size_t i = 0; i < targets_.size(); ++i) index_[targets_[i].target->name] = i;
}

std::vector<std::string> ResultsStore::record_round(const std::string& target_name,
                                                    std::vector<ProbeResult> results) {
  TargetState* state = find_mutable(target_name);
  if (state == nullptr) return {};  // the target left the config meanwhile
  ++state->rounds;

  std::set<std::string> seen;
  for (ProbeResult& result : results) {
    seen.insert(result.address);
    AddressState& address = state->addresses[result.address];
    const bool was_ok = address.probes > 0 && address.last.success;
    const bool was_failing = address.probes > 0 && !address.last.success;

    ++address.probes;
    ++state->probes_by_diagnosis[static_cast<std::size_t>(result.diagnosis)];
    if (result.success) {
      ++address.consecutive_successes;
      address.consecutive_failures = 0;
      address.last_success = result.started_at;
      if (was_failing) ++address.transitions;
    } else {
      ++address.consecutive_failures;
      address.consecutive_successes = 0;
      if (was_ok) ++address.transitions;
    }
    if (address.history.size() == kHistoryLength) {
      address.history.erase(address.history.begin());
    } else if (address.history.empty()) {
      address.history.reserve(kHistoryLength);  // exactly: growth by doubling wastes a third
    }
    address.history.emplace_back(result.started_at, result.success, result.diagnosis,
                                 result.duration);
    address.last = std::move(result);
  }

  std::vector<std::string> dropped;
  for (auto it = state->addresses.begin(); it != state->addresses.end();) {
    if (seen.count(it->first) == 0) {
      dropped.push_back(it->first);
      it = state->addresses.erase(it);
    } else {
      ++it;
    }
  }
  return dropped;
}

void ResultsStore::record_skip(const std::string& target_name) {
  if (TargetState* state = find_mutable(target_name)) ++state->skipped;
}

const TargetState* ResultsStore::find(const std::string& target_name) const {
  auto it = index_.find(target_name);
  return it == index_.end() ? nullptr : &targets_[it->second];
}

TargetState* ResultsStore::find_mutable(const std::string& target_name) {
  return const_cast<TargetState*>(std::as_const(*this).find(target_name));
}

bool ResultsStore::first_round_complete() const {
  return std::all_of(targets_.begin(), targets_.end(),
                     [](const TargetState& s) { return s.rounds > 0; });
}

}  // namespace meshprobe
