#include "kube/hygiene.h"

#include <algorithm>
#include <map>
#include <set>
#include <tuple>

#include "kube/client/reads.h"

namespace meshprobe::kube {
namespace {

constexpr std::uint8_t bit(ViewRead read) {
  return static_cast<std::uint8_t>(1u << static_cast<unsigned>(read));
}
constexpr std::uint8_t kWebhookLists = bit(ViewRead::mutating) | bit(ViewRead::validating);

// A missing caBundle is true of whichever configurations were read; so is a
// stale revision, but only the Services tell it. Without the injector
// webhooks every labelled namespace would look unmatched.
constexpr std::array<HygieneCheck, kHygieneCodes.size()> kChecks = {{
    {kCaBundleMissing, 0, kWebhookLists},
    {kStaleRevision, bit(ViewRead::services), kWebhookLists},
    {kCaMismatch, bit(ViewRead::services), kWebhookLists},
    {kInjectionLabelUnmatched, bit(ViewRead::mutating) | bit(ViewRead::namespaces), 0},
    {kValidationNotEnforced, bit(ViewRead::validating), 0},
    // Which namespaces are selected needs the injector webhooks.
    {kSidecarMissing, bit(ViewRead::mutating) | bit(ViewRead::namespaces) | bit(ViewRead::pods), 0},
    {kDiscoveryAddressStale, bit(ViewRead::mesh_config), 0},
}};

constexpr bool checks_follow_codes() {
  for (std::size_t i = 0; i < kChecks.size(); ++i) {
    if (kChecks[i].name != kHygieneCodes[i]) return false;
  }
  return true;
}
static_assert(checks_follow_codes(), "one hygiene check per code, in kHygieneCodes order");

const HygieneCheck* find_check(std::string_view name) {
  for (const HygieneCheck& check : kChecks) {
    if (check.name == name) return &check;
  }
  return nullptr;
}

bool all_read(const ClusterView& view, std::uint8_t reads) {
  for (const auto& [read, why] : view.unread) {
    if ((reads & bit(read)) != 0) return false;
  }
  return true;
}

constexpr std::string_view read_name(ViewRead read) {
  switch (read) {
    case ViewRead::mutating: return "MutatingWebhookConfigurations";
    case ViewRead::validating: return "ValidatingWebhookConfigurations";
    case ViewRead::namespaces: return "Namespaces";
    case ViewRead::services: return "Services";
    case ViewRead::pods: return "Pods";
    case ViewRead::mesh_config: return "the mesh config";
  }
  return "";
}

// The lists are listed; the mesh config is one ConfigMap (and a Service), got.
constexpr std::string_view read_verb(ViewRead read) {
  return read == ViewRead::mesh_config ? "reading " : "listing ";
}

const ApiAccess& read_access(ViewRead read) {
  switch (read) {
    case ViewRead::mutating: return access::kListMutating;
    case ViewRead::validating: return access::kListValidating;
    case ViewRead::namespaces: return access::kListNamespaces;
    case ViewRead::services: return access::kListServices;
    case ViewRead::pods: return access::kListPods;
    case ViewRead::mesh_config: return access::kGetConfigMap;
  }
  return access::kListServices;
}

constexpr std::string_view kRevisionLabel = "istio.io/rev";
constexpr std::string_view kInjectionLabel = "istio-injection";
constexpr std::string_view kInjectOptIn = "sidecar.istio.io/inject";
constexpr std::string_view kSidecarContainer = "istio-proxy";

Finding make_finding(std::string_view code, std::string object, std::string webhook,
                     std::string message) {
  return {std::string(code), std::move(object), std::move(webhook), std::move(message),
          std::string(hygiene_remedy(code))};
}

bool calls_istio_service(const Webhook& hook, const ClusterView& view) {
  return hook.service && hook.service->ns == view.istio_namespace;
}

std::string service_text(const ServiceReference& service) {
  return service.name + "." + service.ns + ".svc:" + std::to_string(service.port);
}

// istiod's validators are named validation.istio.io and
// rev.validation.istio.io; other validators may choose Ignore on purpose.
bool is_istio_validator(const Webhook& hook) {
  return hook.name == "validation.istio.io" || hook.name.ends_with(".validation.istio.io");
}

void check_configuration(const WebhookConfiguration& config, const ClusterView& view,
                         std::vector<Finding>& out) {
  const bool ca_bundles = check_runs(view, kCaBundleMissing);
  const bool validation = check_runs(view, kValidationNotEnforced);
  for (const Webhook& hook : config.webhooks) {
    if (!calls_istio_service(hook, view)) continue;
    // A webhook whose Service is gone fails whatever else is true of it: the
    // stale revision is the finding, its caBundle and policy are not. (With
    // the Services unread, that is not known: the other checks still run.)
    if (check_runs(view, kStaleRevision) && view.services.count(hook.service->name) == 0) {
      out.push_back(make_finding(
          kStaleRevision, config.object(), hook.name,
          "calls Service " + hook.service->ns + "/" + hook.service->name +
              ", which does not exist (left over from an uninstalled revision?): the API "
              "server's calls fail with `Service \"" +
              hook.service->name + "\" not found`" +
              (hook.failure_policy == "Fail" ? " and, with failurePolicy Fail, requests are refused"
                                             : "")));
      continue;
    }
    if (ca_bundles && hook.ca_bundle_pem.empty()) {
      out.push_back(make_finding(
          kCaBundleMissing, config.object(), hook.name,
          "has no caBundle: the API server cannot verify istiod's certificate at " +
              service_text(*hook.service) +
              " and its calls fail with `x509: certificate signed by unknown authority`"));
    }
    if (validation && config.kind == WebhookKind::validating && hook.failure_policy == "Ignore" &&
        is_istio_validator(hook)) {
      out.push_back(make_finding(
          kValidationNotEnforced, config.object(), hook.name,
          "is still at failurePolicy Ignore: istiod switches it to Fail once it has seen the "
          "webhook work, so Istio config validation is silently off and the API server "
          "probably cannot reach istiod at " +
              service_text(*hook.service)));
    }
  }
}

// Whether the namespace asks for injection, and how (for the message).
std::optional<std::string> injection_request(const Namespace& ns) {
  auto injection = ns.labels.find(std::string(kInjectionLabel));
  if (injection != ns.labels.end()) {
    // istio-injection wins over istio.io/rev; disabled means no injection.
    if (injection->second == "enabled") return std::string(kInjectionLabel) + "=enabled";
    return std::nullopt;
  }
  auto revision = ns.labels.find(std::string(kRevisionLabel));
  if (revision != ns.labels.end()) return std::string(kRevisionLabel) + "=" + revision->second;
  return std::nullopt;
}

bool selected_by_injector(const Namespace& ns, const ClusterView& view) {
  for (const WebhookConfiguration& config : view.mutating) {
    for (const Webhook& hook : config.webhooks) {
      if (!calls_istio_service(hook, view)) continue;
      if (!hook.namespace_selector || hook.namespace_selector->matches(ns.labels)) return true;
    }
  }
  return false;
}

void check_injection_labels(const ClusterView& view, std::vector<Finding>& out) {
  if (!check_runs(view, kInjectionLabelUnmatched)) return;
  for (const Namespace& ns : view.namespaces) {
    const auto request = injection_request(ns);
    if (!request) continue;
    if (selected_by_injector(ns, view)) continue;
    out.push_back(
        make_finding(kInjectionLabelUnmatched, "Namespace/" + ns.name, "",
                     "is labelled " + *request +
                         " but no injector webhook selects it: its pods start without sidecars"));
  }
}

bool opted_out(const Pod& pod) {
  const auto says_false = [](const std::map<std::string, std::string>& values) {
    const auto found = values.find(std::string(kInjectOptIn));
    return found != values.end() && found->second == "false";
  };
  return says_false(pod.labels) || says_false(pod.annotations);
}

bool has_sidecar(const Pod& pod) {
  for (const Container& container : pod.containers) {
    if (container.name == kSidecarContainer) return true;
  }
  for (const Container& container : pod.init_containers) {
    if (container.name == kSidecarContainer && container.restart_policy == "Always") return true;
  }
  return false;
}

bool injection_disabled(const ClusterView& view, const std::string& ns) {
  const auto found = std::ranges::find(view.namespaces, ns, &Namespace::name);
  if (found == view.namespaces.end()) return false;
  const auto label = found->labels.find(std::string(kInjectionLabel));
  return label != found->labels.end() && label->second == "disabled";
}

void check_sidecars(const ClusterView& view, std::vector<Finding>& out) {
  if (!check_runs(view, kSidecarMissing)) return;
  std::map<std::string, std::vector<const Pod*>> by_namespace;
  std::set<std::pair<std::string, std::string>> seen;
  for (const Pod& pod : view.sidecarless_pods) {
    if (!missing_sidecar(pod) || injection_disabled(view, pod.ns)) continue;
    if (!seen.emplace(pod.ns, pod.name).second) continue;  // listed by both reads
    by_namespace[pod.ns].push_back(&pod);
  }
  for (auto& [ns, pods] : by_namespace) {
    // RFC 3339 in UTC sorts as text; the earliest is when injection broke.
    std::ranges::sort(pods, [](const Pod* a, const Pod* b) {
      return std::tie(a->creation_timestamp, a->name) < std::tie(b->creation_timestamp, b->name);
    });
    std::string named;
    for (std::size_t i = 0; i < pods.size() && i < kSidecarMissingNamed; ++i) {
      if (!named.empty()) named += ", ";
      named += pods[i]->name + " (created " + pods[i]->creation_timestamp + ")";
    }
    if (pods.size() > kSidecarMissingNamed) {
      named += " and " + std::to_string(pods.size() - kSidecarMissingNamed) + " more";
    }
    out.push_back(make_finding(
        kSidecarMissing, "Namespace/" + ns, "",
        std::to_string(pods.size()) + " running " + (pods.size() == 1 ? "pod has" : "pods have") +
            " no istio-proxy sidecar though injection is asked for: " + named +
            "; the earliest was created " + pods.front()->creation_timestamp +
            ": injection was skipped or failed from then on (see the webhook's observed "
            "failures)"));
  }
}

// The proxies dial the discovery address for their xDS stream; a Service
// that does not exist (an uninstalled revision's istiod) leaves every new
// sidecar without configuration: "no healthy upstream".
void check_one_discovery_address(const MeshDiscovery& discovery, std::set<std::string>& reported,
                                 std::vector<Finding>& out) {
  // Istio's default address is istiod's own Service: the webhook checks and
  // the xDS target already say when that is missing.
  if (!discovery.configured || !discovery.service || discovery.service_exists) return;
  if (!reported.insert(discovery.service->host()).second) return;
  out.push_back(make_finding(
      kDiscoveryAddressStale, "Service/" + discovery.service->ns + "/" + discovery.service->name,
      "",
      "the discovery address " + discovery.address + " (from " + discovery.source +
          ") names Service " + discovery.service->ns + "/" + discovery.service->name +
          ", which does not exist: the sidecars' xDS stream has no upstream (`no healthy "
          "upstream`) and they receive no configuration"));
}

// A pod's own proxy.istio.io/config overrides the mesh's address for that
// pod: each overriding address is checked the same way, once per Service.
void check_discovery_address(const ClusterView& view, std::vector<Finding>& out) {
  if (!check_runs(view, kDiscoveryAddressStale) || !view.mesh_discovery) return;
  std::set<std::string> reported;
  std::vector<const MeshDiscovery*> addresses{&*view.mesh_discovery};
  for (const MeshDiscovery& pods : view.pod_discoveries) addresses.push_back(&pods);
  for (const MeshDiscovery* discovery : addresses) {
    check_one_discovery_address(*discovery, reported, out);
  }
}

}  // namespace

bool missing_sidecar(const Pod& pod) {
  return pod.phase == "Running" && !pod.host_network && !opted_out(pod) && !has_sidecar(pod);
}

std::vector<std::string> pods_to_read(const ClusterView& view) {
  std::vector<std::string> out;
  for (const Namespace& ns : view.namespaces) {
    if (injection_request(ns) && selected_by_injector(ns, view)) out.push_back(ns.name);
  }
  return out;
}

std::string_view hygiene_remedy(std::string_view code) {
  if (code == kCaBundleMissing) {
    return "restart istiod so it patches the caBundle back (kubectl -n istio-system rollout "
           "restart deployment/istiod[-REV]); if it disappears again, something re-applies the "
           "configuration without it";
  }
  if (code == kStaleRevision) {
    return "delete the configuration left over from the uninstalled revision (kubectl delete "
           "mutatingwebhookconfiguration/validatingwebhookconfiguration NAME), or reinstall "
           "that revision";
  }
  if (code == kCaMismatch) {
    return "restart istiod so it re-patches the caBundle with the root it signs with; with a "
           "plugged-in CA, check istiod's certificate chain";
  }
  if (code == kInjectionLabelUnmatched) {
    return "label the namespace with an installed revision (kubectl get "
           "mutatingwebhookconfigurations -l istio.io/rev -L istio.io/rev), or install that "
           "revision; istio-injection=enabled needs the default revision or a \"default\" tag";
  }
  if (code == kDiscoveryAddressStale) {
    return "set the mesh config's defaultConfig.discoveryAddress (ConfigMap istio[-REV] in "
           "istio's namespace, key mesh) to an installed revision's Service "
           "(istiod[-REV].istio-system.svc:15012), or install that revision; then restart the "
           "injected pods";
  }
  if (code == kValidationNotEnforced) {
    return "make sure the API server reaches istiod on 15017 (see the apiserver vantage and "
           "tcp_timeout: on private clusters, allow the control-plane CIDR to the nodes)";
  }
  if (code == kSidecarMissing) {
    return "fix what kept the injector from being called (the webhook's verdict and its observed "
           "failures say which hop), then recreate the pods (kubectl -n NS rollout restart "
           "deployment/NAME); a pod meant to run without a sidecar should carry the label "
           "sidecar.istio.io/inject=false";
  }
  return "";
}

namespace {

// Only the namespaces that ask for injection are listed (every pod of each,
// paged), and one cluster-wide list selects the pods that ask for it
// themselves: a cluster's other pods are never read.
void read_sidecarless_pods(KubeApi& api, ClusterView& view) {
  if (!view.has(ViewRead::mutating) || !view.has(ViewRead::namespaces)) {
    view.unread.emplace(ViewRead::pods, "not read: it needs the injector webhooks and namespaces");
    return;
  }
  // The injected pods that set their own discovery address: their proxies
  // dial it instead of the mesh config's.
  std::vector<Pod> overriding;
  const auto keep = [&view, &overriding](Expected<std::vector<Pod>> listed) {
    if (!listed) {
      view.unread.emplace(ViewRead::pods, listed.error().message);
      return false;
    }
    for (Pod& pod : *listed) {
      if (missing_sidecar(pod)) {
        view.sidecarless_pods.push_back(std::move(pod));
      } else if (has_sidecar(pod) &&
                 pod.annotations.contains(std::string(kProxyConfigAnnotation))) {
        overriding.push_back(std::move(pod));
      }
    }
    return true;
  };
  const auto read_all = [&] {
    for (const std::string& ns : pods_to_read(view)) {
      if (!keep(api.list_pods(ns))) return;
    }
    keep(api.list_pods_labelled(std::string(kInjectPodSelector)));
  };
  read_all();
  view.pod_discoveries = pod_discovery_overrides(overriding);
  resolve_pod_discovery_services(api, view.pod_discoveries);
}

}  // namespace

ClusterView read_cluster_view(KubeApi& api, const std::string& istio_namespace,
                              const std::string& revision) {
  ClusterView view;
  view.istio_namespace = istio_namespace;
  const auto keep = [&view](ViewRead read, auto listed, auto& into) {
    if (listed) {
      into = std::move(*listed);
    } else {
      view.unread.emplace(read, listed.error().message);
    }
  };
  keep(ViewRead::mutating, api.list_webhook_configurations(WebhookKind::mutating), view.mutating);
  keep(ViewRead::validating, api.list_webhook_configurations(WebhookKind::validating),
       view.validating);
  keep(ViewRead::namespaces, api.list_namespaces(), view.namespaces);
  auto services = api.list_services(istio_namespace);
  if (services) {
    for (const Service& service : *services) view.services.insert(service.name);
  } else {
    view.unread.emplace(ViewRead::services, services.error().message);
  }
  read_sidecarless_pods(api, view);
  auto discovery = read_mesh_discovery(api, istio_namespace, revision);
  if (discovery) {
    view.mesh_discovery = std::move(*discovery);
  } else {
    view.unread.emplace(ViewRead::mesh_config, discovery.error().message);
  }
  return view;
}

const std::array<HygieneCheck, kHygieneCodes.size()>& hygiene_checks() { return kChecks; }

bool check_runs(const ClusterView& view, std::string_view check) {
  const HygieneCheck* found = find_check(check);
  if (found == nullptr || !all_read(view, found->needs)) return false;
  if (found->covers == 0) return true;
  for (unsigned read = 0; read < 8; ++read) {
    const std::uint8_t one = static_cast<std::uint8_t>(1u << read);
    if ((found->covers & one) != 0 && all_read(view, one)) return true;
  }
  return false;
}

bool check_complete(const ClusterView& view, std::string_view check) {
  const HygieneCheck* found = find_check(check);
  return found != nullptr && all_read(view, found->needs | found->covers);
}

std::vector<std::string> check_rbac(std::string_view check, const std::string& istio_namespace) {
  std::vector<std::string> rules;
  const HygieneCheck* found = find_check(check);
  if (found == nullptr) return rules;
  for (ViewRead read : {ViewRead::mutating, ViewRead::validating, ViewRead::namespaces,
                        ViewRead::services, ViewRead::pods, ViewRead::mesh_config}) {
    if (((found->needs | found->covers) & bit(read)) != 0) {
      rules.push_back(describe_access(read_access(read), istio_namespace));
    }
  }
  // The TLS check also reads its Services' endpoints (kube/snapshot.cpp).
  if (check == kDiscoveryAddressStale) {
    rules.push_back(describe_access(access::kGetService, istio_namespace));
  }
  if (check == kCaMismatch) {
    rules.push_back(describe_access(access::kGetService, istio_namespace));
    rules.push_back(describe_access(access::kListEndpointSlices, istio_namespace));
  }
  return rules;
}

std::vector<CheckNote> incomplete_check_notes(const ClusterView& view) {
  std::vector<CheckNote> notes;
  for (const HygieneCheck& check : kChecks) {
    if (check_complete(view, check.name)) continue;
    std::string why;
    for (const auto& [read, reason] : view.unread) {
      if (((check.needs | check.covers) & bit(read)) == 0) continue;
      if (!why.empty()) why += "; ";
      why += std::string(read_verb(read)) + std::string(read_name(read)) + " failed: " + reason;
    }
    const std::string ran = check_runs(view, check.name)
                                ? "ran on part of what it reads (its findings there stand)"
                                : "could not run";
    notes.push_back({std::string(check.name),
                     "check " + std::string(check.name) + " " + ran + ": " + why,
                     check_rbac(check.name, view.istio_namespace)});
  }
  return notes;
}

std::vector<Finding> check_webhooks(const ClusterView& view) {
  std::vector<Finding> out;
  for (const WebhookConfiguration& config : view.mutating) check_configuration(config, view, out);
  for (const WebhookConfiguration& config : view.validating) check_configuration(config, view, out);
  check_injection_labels(view, out);
  check_sidecars(view, out);
  check_discovery_address(view, out);
  sort_findings(out);
  return out;
}

std::vector<CaCheck> ca_checks(const ClusterView& view) {
  std::vector<CaCheck> checks;
  if (!check_runs(view, kCaMismatch)) return checks;
  std::map<std::tuple<std::string, std::uint16_t, std::string>, std::size_t> index;
  const auto add = [&](const WebhookConfiguration& config) {
    for (const Webhook& hook : config.webhooks) {
      if (!calls_istio_service(hook, view) || hook.ca_bundle_pem.empty()) continue;
      if (view.services.count(hook.service->name) == 0) continue;
      const auto key = std::make_tuple(hook.service->name, hook.service->port, hook.ca_bundle_pem);
      auto [it, inserted] = index.emplace(key, checks.size());
      if (inserted) {
        checks.push_back({ServiceName{hook.service->name, hook.service->ns},
                          hook.service->port,
                          hook.ca_bundle_pem,
                          {}});
      }
      checks[it->second].users.emplace_back(config.object(), hook.name);
    }
  };
  for (const WebhookConfiguration& config : view.mutating) add(config);
  for (const WebhookConfiguration& config : view.validating) add(config);
  return checks;
}

bool shows_ca_mismatch(Diagnosis diagnosis) {
  return diagnosis == Diagnosis::tls_unknown_authority;
}

std::vector<Finding> ca_mismatch_findings(const CaCheck& check, std::string_view evidence) {
  std::vector<Finding> out;
  for (const auto& [object, webhook] : check.users) {
    out.push_back(make_finding(
        kCaMismatch, object, webhook,
        "its caBundle does not verify the certificate istiod serves for " + check.service.host() +
            ":" + std::to_string(check.port) + " (" + std::string(evidence) +
            "): the API server's calls fail with `x509: certificate signed by unknown "
            "authority`"));
  }
  return out;
}

void sort_findings(std::vector<Finding>& findings) {
  const auto rank = [](const Finding& f) {
    return std::find(kHygieneCodes.begin(), kHygieneCodes.end(), f.code) - kHygieneCodes.begin();
  };
  std::stable_sort(findings.begin(), findings.end(), [&](const Finding& a, const Finding& b) {
    return std::make_tuple(rank(a), std::cref(a.object), std::cref(a.webhook)) <
           std::make_tuple(rank(b), std::cref(b.object), std::cref(b.webhook));
  });
}

}  // namespace meshprobe::kube
