// Kubernetes mode's series, kept apart from the probe metrics (metrics.h)
// and appended to the same /metrics exposition: API reads, the hygiene
// findings, and the readiness of discovered endpoints.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "agent/results/metrics_source.h"
#include "agent/targets/expand.h"
#include "kube/hygiene_report.h"

namespace meshprobe {

class KubeMetrics final : public MetricsSource {
 public:
  // One read of the Kubernetes API finished; `success`: nothing failed.
  void record_refresh(bool success, WallClock::time_point at);
  void set_hygiene(const HygieneReport& report);
  // meshprobe_webhook_call_failures_total{webhook,diagnosis}.
  void set_observed(const kube::ObservedFailures& observed);
  // meshprobe_endpoint_ready for every pinned address of `targets`.
  void set_endpoints(const std::vector<ExpandedTarget>& targets, const std::string& vantage,
                     const std::string& node);

  // Text exposition format 0.0.4; families with no series are left out.
  std::string serialize() const;
  MetricsScrape scrape() const override { return MetricsScrape::of_text(serialize()); }

 private:
  std::uint64_t refresh_successes_ = 0;
  std::uint64_t refresh_failures_ = 0;
  std::optional<double> last_success_;
  std::optional<HygieneReport> hygiene_;
  void append_observed(std::string& out) const;
  bool observed_read_ = false;
  std::vector<kube::ObservedFailureCount> observed_;
  struct Endpoint {
    std::string labels;  // rendered: target, url, vantage, node, address
    bool ready = true;
  };
  std::vector<Endpoint> endpoints_;
};

}  // namespace meshprobe
