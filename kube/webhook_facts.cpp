#include "kube/webhook_facts.h"

#include <algorithm>
#include <string>
#include <string_view>

#include "kube/apiserver_proxy.h"

namespace meshprobe::kube {
namespace {

constexpr std::string_view kAdmissionScheme = "admission://";
// How far back the verdict looks at observed failures (the API server keeps
// events for an hour by default).
constexpr std::chrono::seconds kObservedWindow{3600};

// admission://MODE/NAMESPACE: the mode and the canary namespace.
struct AdmissionUrl {
  std::string_view mode;
  std::string_view ns;
};

std::optional<AdmissionUrl> admission_url(std::string_view url) {
  if (!url.starts_with(kAdmissionScheme)) return std::nullopt;
  url.remove_prefix(kAdmissionScheme.size());
  const auto slash = url.find('/');
  if (slash == std::string_view::npos) return std::nullopt;
  return AdmissionUrl{url.substr(0, slash), url.substr(slash + 1)};
}

const Namespace* find_namespace(const ClusterView& view, std::string_view name) {
  const auto found = std::ranges::find(view.namespaces, name, &Namespace::name);
  return found == view.namespaces.end() ? nullptr : &*found;
}

std::string label(const ProbeResult& result, const std::string& key) {
  const auto found = result.address_labels.find(key);
  return found == result.address_labels.end() ? std::string() : found->second;
}

// The admission result that went through `hook`: one that names it (the API
// server named the webhook it failed to call), or -- when the API server
// named none (the call passed, or no sidecar came back) -- one of the
// webhook's kind in a namespace its namespaceSelector selects. Never a
// result of a namespace the cluster view does not hold: an ok there would
// be claimed for a webhook that may not have been called.
const ProbeResult* admission_of(const Webhook& hook, WebhookKind kind, const ClusterView& view,
                                std::span<const ProbeResult> results) {
  const std::string_view mode = kind == WebhookKind::mutating ? "inject" : "validate";
  for (const ProbeResult& result : results) {
    const auto url = admission_url(result.url);
    if (!url || url->mode != mode || result.cancelled) continue;
    const std::string named = label(result, "webhook");
    if (!named.empty()) {
      if (named == hook.name) return &result;
      continue;
    }
    const Namespace* ns = find_namespace(view, url->ns);
    if (ns == nullptr) continue;
    if (!hook.namespace_selector || hook.namespace_selector->matches(ns->labels)) return &result;
  }
  return nullptr;
}

// The round's result for `pod` of the Service from `vantage_apiserver`'s side
// (a pod-proxy dial) or this agent's (a direct probe of address:port).
const ProbeResult* pod_result(std::span<const ProbeResult> results, const DiscoveredEndpoint& pod,
                              bool through_apiserver) {
  for (const ProbeResult& result : results) {
    if (admission_url(result.url)) continue;
    const bool apiserver = result.vantage == kApiserverVantage;
    if (apiserver != through_apiserver) continue;
    if (apiserver) {
      if (!pod.pod.empty() && label(result, "pod") == pod.pod) return &result;
      continue;
    }
    if (result.kind != ProbeKind::tls && result.kind != ProbeKind::https) continue;
    if (result.address == pod.address && label(result, "port") == std::to_string(pod.port)) {
      return &result;
    }
  }
  return nullptr;
}

// The endpoints the caBundle check read for the webhook's Service and port;
// `checks` is ca_checks(*snapshot.cluster), in the order the snapshot read them.
const Expected<std::optional<ServiceEndpoints>>* endpoints_of(const Webhook& hook,
                                                              const KubeSnapshot& snapshot,
                                                              const std::vector<CaCheck>& checks) {
  for (std::size_t i = 0; i < checks.size() && i < snapshot.ca_check_endpoints.size(); ++i) {
    if (checks[i].service.name == hook.service->name && checks[i].port == hook.service->port) {
      return &snapshot.ca_check_endpoints[i];
    }
  }
  return nullptr;
}

WebhookFacts facts_of(const WebhookConfiguration& config, const Webhook& hook,
                      const KubeSnapshot& snapshot, const std::vector<CaCheck>& checks,
                      std::span<const ProbeResult> results, const HygieneReport& hygiene) {
  WebhookFacts facts;
  if (snapshot.control_plane) facts.control_plane = snapshot.control_plane->context;
  facts.webhook = hook.name;
  facts.configuration = config.name;
  facts.kind = config.kind;
  facts.service = ServiceName{hook.service->name, hook.service->ns};
  facts.service_port = hook.service->port;
  facts.failure_policy = hook.failure_policy;
  const bool verified = hygiene.ca_verified.contains({config.object(), hook.name});
  apply_hygiene_findings(facts, hygiene.findings, verified);
  facts.observed = failures_of(hygiene.observed, hook.name, snapshot.read_at, kObservedWindow);
  if (const ProbeResult* admission = admission_of(hook, config.kind, *snapshot.cluster, results)) {
    facts.admission = *admission;
  }
  if (const auto* endpoints = endpoints_of(hook, snapshot, checks); endpoints && *endpoints) {
    facts.endpoints_read = true;
    if (**endpoints) {
      for (const DiscoveredEndpoint& endpoint : (**endpoints)->endpoints) {
        WebhookPodFacts pod;
        pod.pod = endpoint.pod;
        pod.address = endpoint.address;
        pod.port = endpoint.port;
        pod.ready = endpoint.ready;
        if (const ProbeResult* dial = pod_result(results, endpoint, true))
          pod.apiserver_dial = *dial;
        if (const ProbeResult* direct = pod_result(results, endpoint, false)) pod.direct = *direct;
        facts.pods.push_back(std::move(pod));
      }
    }
  }
  return facts;
}

}  // namespace

std::vector<WebhookVerdict> webhook_verdicts(const KubeSnapshot& snapshot,
                                             std::span<const ProbeResult> results,
                                             const HygieneReport& hygiene) {
  std::vector<WebhookVerdict> verdicts;
  if (!snapshot.cluster) return verdicts;
  const ClusterView& view = *snapshot.cluster;
  const std::vector<CaCheck> checks = ca_checks(view);
  for (const auto* configs : {&view.mutating, &view.validating}) {
    for (const WebhookConfiguration& config : *configs) {
      for (const Webhook& hook : config.webhooks) {
        if (!hook.service || hook.service->ns != view.istio_namespace) continue;
        WebhookVerdict verdict =
            judge_webhook(facts_of(config, hook, snapshot, checks, results, hygiene));
        if (snapshot.control_plane) verdict.notes = snapshot.control_plane->unread;
        verdicts.push_back(std::move(verdict));
      }
    }
  }
  return verdicts;
}

}  // namespace meshprobe::kube
