#include "agent/results/webhook_verdicts.h"

#include "agent/results/exposition.h"
#include "kube/apiserver_proxy.h"
#include "kube/webhook_facts.h"

namespace meshprobe {
namespace {

// What a verdict can rest on: the API server's calls and dials (the
// admission probes and the pod-proxy dials are its vantage) and this
// agent's probes of discovered endpoints (they carry the pod port). The
// rest of a large agent's store is left uncopied.
bool may_bear_on_a_webhook(const ProbeResult& result) {
  return result.vantage == kube::kApiserverVantage || result.address_labels.contains("port");
}

}  // namespace

std::vector<kube::WebhookVerdict> current_webhook_verdicts(const ResultsStore& store,
                                                           const KubeSnapshot* snapshot,
                                                           const HygieneReport& hygiene) {
  if (snapshot == nullptr || !hygiene.ran) return {};
  std::vector<ProbeResult> results;
  for (const TargetState& target : store.targets()) {
    for (const auto& [address, state] : target.addresses) {
      if (may_bear_on_a_webhook(state.last)) results.push_back(state.last);
    }
  }
  return kube::webhook_verdicts(*snapshot, results, hygiene);
}

std::string webhook_verdict_metrics(std::span<const kube::WebhookVerdict> verdicts) {
  std::string out;
  if (verdicts.empty()) return out;
  constexpr std::string_view kName = "meshprobe_webhook_verdict";
  append_metric_header(
      out, kName, "gauge",
      "1 for each istio webhook's current verdict: the first broken hop of the API server's call "
      "as a diagnosis code, ok only when the API server's real call confirmed it, unconfirmed "
      "when nothing was seen broken but no call was made.");
  for (const kube::WebhookVerdict& verdict : verdicts) {
    std::string labels;
    append_label(labels, "configuration", verdict.configuration);
    append_label(labels, "webhook", verdict.webhook);
    append_label(labels, "diagnosis", kube::verdict_code(verdict));
    out += std::string(kName) + "{" + labels + "} 1\n";
  }
  return out;
}

}  // namespace meshprobe
