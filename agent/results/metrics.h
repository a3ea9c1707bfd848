// The Prometheus exposition: blackbox_exporter-compatible probe_* series and
// meshprobe_* series. Per-target series carry target, url, vantage and node
// (and address on per-address series).
//
// Per-target series are written straight from the results store at scrape
// time: an agent with 10,000 targets has 150,000 of them, and keeping a
// metric object per series (as a client-library registry does) costs
// hundreds of megabytes and a third of a second per scrape. The few
// agent-wide series live in a prometheus-cpp registry.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "agent/results/metrics_source.h"
#include "agent/results/store.h"

namespace meshprobe {

class Metrics {
 public:
  Metrics(std::string vantage, std::string node_name);
  ~Metrics();
  Metrics(const Metrics&) = delete;
  Metrics& operator=(const Metrics&) = delete;

  // Feeds the agent-wide latency histogram (by probe kind).
  void observe_round(const std::vector<ProbeResult>& round);
  void observe_schedule_lateness(double seconds);
  void set_in_flight(int probes);
  void set_targets(int targets);
  void record_config_reload(bool success);

  // Text exposition format 0.0.4 of every series, in parts or at once. A
  // scrape copies the store's values when it starts and renders them
  // afterwards.
  MetricsScrape scrape(const ResultsStore& store) const;
  std::string serialize(const ResultsStore& store) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// The probe series of a store, as one source of /metrics.
class ProbeSeries final : public MetricsSource {
 public:
  ProbeSeries(const Metrics& metrics, const ResultsStore& store)
      : metrics_(metrics), store_(store) {}
  MetricsScrape scrape() const override { return metrics_.scrape(store_); }

 private:
  const Metrics& metrics_;
  const ResultsStore& store_;
};

}  // namespace meshprobe
