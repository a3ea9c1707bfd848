#include "kube/hygiene.h"

#include <algorithm>
#include <map>
#include <tuple>

#include "kube/client/reads.h"

namespace meshprobe::kube {
namespace {

constexpr std::string_view kRevisionLabel = "istio.io/rev";
constexpr std::string_view kInjectionLabel = "istio-injection";

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
  for (const Webhook& hook : config.webhooks) {
    if (!calls_istio_service(hook, view)) continue;
    // A webhook whose Service is gone fails whatever else is true of it: the
    // stale revision is the finding, its caBundle and policy are not.
    if (view.services.count(hook.service->name) == 0) {
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
    if (hook.ca_bundle_pem.empty()) {
      out.push_back(make_finding(
          kCaBundleMissing, config.object(), hook.name,
          "has no caBundle: the API server cannot verify istiod's certificate at " +
              service_text(*hook.service) +
              " and its calls fail with `x509: certificate signed by unknown authority`"));
    }
    if (config.kind == WebhookKind::validating && hook.failure_policy == "Ignore" &&
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

void check_injection_labels(const ClusterView& view, std::vector<Finding>& out) {
  for (const Namespace& ns : view.namespaces) {
    const auto request = injection_request(ns);
    if (!request) continue;
    bool selected = false;
    for (const WebhookConfiguration& config : view.mutating) {
      for (const Webhook& hook : config.webhooks) {
        if (!calls_istio_service(hook, view)) continue;
        if (!hook.namespace_selector || hook.namespace_selector->matches(ns.labels)) {
          selected = true;
        }
      }
    }
    if (selected) continue;
    out.push_back(
        make_finding(kInjectionLabelUnmatched, "Namespace/" + ns.name, "",
                     "is labelled " + *request +
                         " but no injector webhook selects it: its pods start without sidecars"));
  }
}

}  // namespace

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
  if (code == kValidationNotEnforced) {
    return "make sure the API server reaches istiod on 15017 (see the apiserver vantage and "
           "tcp_timeout: on private clusters, allow the control-plane CIDR to the nodes)";
  }
  return "";
}

Expected<ClusterView> read_cluster_view(KubeApi& api, const std::string& istio_namespace) {
  ClusterView view;
  view.istio_namespace = istio_namespace;
  auto mutating = api.list_webhook_configurations(WebhookKind::mutating);
  if (!mutating) return mutating.error();
  view.mutating = std::move(*mutating);
  auto validating = api.list_webhook_configurations(WebhookKind::validating);
  if (!validating) return validating.error();
  view.validating = std::move(*validating);
  auto namespaces = api.list_namespaces();
  if (!namespaces) return namespaces.error();
  view.namespaces = std::move(*namespaces);
  auto services = api.list_services(istio_namespace);
  if (!services) return services.error();
  for (const Service& service : *services) view.services.insert(service.name);
  return view;
}

std::vector<Finding> check_webhooks(const ClusterView& view) {
  std::vector<Finding> out;
  for (const WebhookConfiguration& config : view.mutating) check_configuration(config, view, out);
  for (const WebhookConfiguration& config : view.validating) check_configuration(config, view, out);
  check_injection_labels(view, out);
  sort_findings(out);
  return out;
}

std::vector<CaCheck> ca_checks(const ClusterView& view) {
  std::vector<CaCheck> checks;
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
