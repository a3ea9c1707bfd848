// The Prometheus exposition: blackbox_exporter-compatible probe_* series and
// meshprobe_* series, all labelled target, url, vantage, node (and address
// on per-address series). prometheus-cpp stays behind this interface.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "agent/results_store.h"

namespace meshprobe {

class Metrics {
 public:
  Metrics(std::string vantage, std::string node_name);
  ~Metrics();
  Metrics(const Metrics&) = delete;
  Metrics& operator=(const Metrics&) = delete;

  // After ResultsStore::record_round: updates every series of the target
  // from `state`, counts `round` and removes the series of `dropped_addresses`.
  void record_round(const TargetState& state, const std::vector<ProbeResult>& round,
                    const std::vector<std::string>& dropped_addresses);
  void record_skip(const TargetState& state);
  // Removes every series of a target that left the configuration.
  void forget_target(const std::string& target_name);

  void observe_schedule_lateness(double seconds);
  void set_in_flight(int probes);
  void set_targets(int targets);
  void record_config_reload(bool success);

  // Text exposition format 0.0.4.
  std::string serialize() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace meshprobe
