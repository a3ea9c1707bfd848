#include "agent/results/kube_metrics.h"

#include <fmt/format.h>

#include <array>
#include <string_view>

#include "agent/results/exposition.h"

namespace meshprobe {
namespace {

std::string labels(std::initializer_list<std::pair<std::string_view, std::string_view>> pairs) {
  std::string out = "{";
  for (const auto& [name, value] : pairs) {
    if (out.size() > 1) out += ',';
    out += name;
    out += "=\"";
    append_escaped_label_value(out, value);
    out += '"';
  }
  return out + "}";
}

}  // namespace

void KubeMetrics::record_refresh(bool success, WallClock::time_point at) {
  if (success) {
    ++refresh_successes_;
    last_success_ = std::chrono::duration<double>(at.time_since_epoch()).count();
  } else {
    ++refresh_failures_;
  }
}

void KubeMetrics::set_hygiene(const HygieneReport& report) {
  if (report.ran) {
    hygiene_ = report;
  } else {
    hygiene_.reset();
  }
}

void KubeMetrics::set_endpoints(const std::vector<ExpandedTarget>& targets,
                                const std::string& vantage, const std::string& node) {
  endpoints_.clear();
  for (const ExpandedTarget& expanded : targets) {
    const Target& target = *expanded.spec.target;
    for (const auto& [address, facts] : target.address_labels) {
      auto ready = facts.find("ready");
      if (ready == facts.end()) continue;
      endpoints_.push_back({labels({{"target", target.name},
                                    {"url", target.url},
                                    {"vantage", target.vantage.empty() ? vantage : target.vantage},
                                    {"node", node},
                                    {"address", address}}),
                            ready->second == "true"});
    }
  }
}

void KubeMetrics::set_observed(const kube::ObservedFailures& observed) {
  observed_ = observed.read ? observed.totals : std::vector<kube::ObservedFailureCount>();
  observed_read_ = observed.read;
}

void KubeMetrics::append_observed(std::string& out) const {
  if (!observed_read_) return;
  constexpr std::string_view kFailures = "meshprobe_webhook_call_failures_total";
  append_metric_header(out, kFailures, "counter",
                       "Webhook calls the API server failed, from FailedCreate events (their "
                       "counts), since this agent started, by webhook and diagnosis.");
  for (const kube::ObservedFailureCount& total : observed_) {
    out += fmt::format("{}{} {}\n", kFailures,
                       labels({{"webhook", total.webhook}, {"diagnosis", code(total.diagnosis)}}),
                       total.failures);
  }
}

std::string KubeMetrics::serialize() const {
  std::string out;
  constexpr std::string_view kRefreshes = "meshprobe_kubernetes_refreshes_total";
  append_metric_header(out, kRefreshes, "counter",
                       "Reads of the Kubernetes API (CA bundles, endpoints, hygiene), by result.");
  out += fmt::format("{}{} {}\n", kRefreshes, labels({{"result", "success"}}), refresh_successes_);
  out += fmt::format("{}{} {}\n", kRefreshes, labels({{"result", "failure"}}), refresh_failures_);
  if (last_success_) {
    constexpr std::string_view kLast =
        "meshprobe_kubernetes_last_refresh_success_timestamp_seconds";
    append_metric_header(out, kLast, "gauge",
                         "Unix time of the last read of the Kubernetes API without errors.");
    out += fmt::format("{} {}\n", kLast, *last_success_);
  }
  if (hygiene_) {
    append_metric_header(out, "meshprobe_hygiene_check_success", "gauge",
                         "Whether each webhook hygiene check ran on everything it reads (1) or "
                         "not (0, e.g. missing RBAC: /status's hygiene_notes say why).");
    for (std::string_view check : kube::kHygieneCodes) {
      out += fmt::format("meshprobe_hygiene_check_success{} {}\n", labels({{"check", check}}),
                         hygiene_->check_succeeded(check) ? 1 : 0);
    }
    if (hygiene_->error.empty()) {
      append_metric_header(out, "meshprobe_hygiene_findings", "gauge",
                           "Current webhook hygiene findings, by code (0 when none; absent for "
                           "a check that could not run).");
      for (std::string_view code : kube::kHygieneCodes) {
        std::size_t count = 0;
        for (const kube::Finding& finding : hygiene_->findings) count += finding.code == code;
        // A check that did not run has no count to give.
        if (hygiene_->skipped_checks.contains(std::string(code))) continue;
        out += fmt::format("meshprobe_hygiene_findings{} {}\n", labels({{"code", code}}), count);
      }
      if (!hygiene_->findings.empty()) {
        append_metric_header(
            out, "meshprobe_hygiene_finding", "gauge",
            "1 for each current webhook hygiene finding: its code, object and webhook.");
        for (const kube::Finding& finding : hygiene_->findings) {
          out += fmt::format("meshprobe_hygiene_finding{} 1\n",
                             labels({{"code", finding.code},
                                     {"object", finding.object},
                                     {"webhook", finding.webhook}}));
        }
      }
    }
  }
  append_observed(out);
  if (!endpoints_.empty()) {
    append_metric_header(
        out, "meshprobe_endpoint_ready", "gauge",
        "Whether the Service's EndpointSlice counts the discovered address ready (1) or not (0).");
    for (const Endpoint& endpoint : endpoints_) {
      out +=
          fmt::format("meshprobe_endpoint_ready{} {}\n", endpoint.labels, endpoint.ready ? 1 : 0);
    }
  }
  return out;
}

}  // namespace meshprobe
