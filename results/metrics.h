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

#include "results/store.h"

namespace meshprobe {

// One scrape of the per-target series: the store's values are copied when
// it starts (about 0.3 KB per address), then the text is produced in parts,
// so a large exposition goes out while it is being written and the event
// loop records results in between. Move-only.
class MetricsScrape {
 public:
  class Parts;
  explicit MetricsScrape(std::unique_ptr<Parts> parts);
  ~MetricsScrape();
  MetricsScrape(MetricsScrape&&) noexcept;
  MetricsScrape& operator=(MetricsScrape&&) noexcept;

  bool done() const;
  std::size_t size_hint() const;  // of the whole text, for a caller that keeps it
  // Appends the next part, about `budget` bytes (a line may run over).
  void next(std::string& out, std::size_t budget);

 private:
  std::unique_ptr<Parts> parts_;
};

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

  // Text exposition format 0.0.4 of every series, in parts or at once.
  MetricsScrape scrape(const ResultsStore& store) const;
  std::string serialize(const ResultsStore& store) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace meshprobe
