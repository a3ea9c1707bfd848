#include "agent/kube_targets.h"

#include <algorithm>

#include "kube/apiserver_proxy.h"

namespace meshprobe {
namespace {

std::string in_quotes(std::string_view text) { return "\"" + std::string(text) + "\""; }

ProbeResult verdict_for(const Target& target, const KubeSnapshot& snapshot, Diagnosis diagnosis,
                        std::string message) {
  ProbeResult result;
  result.target = target.name;
  result.url = target.url;
  result.kind = target.kind;
  result.vantage = target.vantage;
  result.success = false;
  result.diagnosis = diagnosis;
  result.failed_phase = Phase::resolve;
  result.message = std::move(message);
  result.started_at = snapshot.read_at;
  return result;
}

// The same URL for another Service host (revision discovery).
std::string with_host(const std::string& url, const std::string& from, const std::string& to) {
  const std::size_t scheme_end = url.find("://");
  const std::size_t at = url.find(from, scheme_end == std::string::npos ? 0 : scheme_end + 3);
  if (at == std::string::npos) return url;
  return url.substr(0, at) + to + url.substr(at + from.size());
}

class Expander {
 public:
  Expander(const Config& config, const KubeSnapshot* snapshot)
      : config_(config), snapshot_(snapshot) {}

  std::vector<ExpandedTarget> run() {
    for (const TargetConfig& tc : config_.targets) expand(tc);
    return std::move(out_);
  }

 private:
  void probe(std::shared_ptr<const Target> target, std::chrono::milliseconds interval) {
    out_.push_back({{std::move(target), interval}, {}, false});
  }
  void probe(Target target, std::chrono::milliseconds interval) {
    probe(std::make_shared<const Target>(std::move(target)), interval);
  }

  void pending(Target target, std::chrono::milliseconds interval) {
    out_.push_back({{std::make_shared<const Target>(std::move(target)), interval}, {}, true});
  }

  void verdict(const Target& target, std::chrono::milliseconds interval, Diagnosis diagnosis,
               std::string message) {
    ProbeResult result = verdict_for(target, *snapshot_, diagnosis, std::move(message));
    out_.push_back({{std::make_shared<const Target>(target), interval}, std::move(result), false});
  }

  void expand(const TargetConfig& tc) {
    // Nearly every target is probed as configured: share the config's
    // Target rather than hold a second copy of it (0.8 KB a target).
    if (!tc.needs_kubernetes()) return probe(tc.target, tc.interval);
    Target target = *tc.target;
    if (tc.via == Via::apiserver) {
      target.via = std::string(kube::kApiserverVantage);
      target.vantage = std::string(kube::kApiserverVantage);
    }
    if (snapshot_ == nullptr) return pending(std::move(target), tc.interval);
    // The Service name as the API server uses it is what istiod's
    // certificate covers, also for a host written with .cluster.local.
    const auto service = kube::parse_service_host(target.host);
    if (service && !tc.explicit_server_name) target.server_name = service->host();

    if (tc.ca_from_kubernetes) {
      auto bundle = snapshot_->bundles.find(tc.ca);
      // Not in this snapshot: the config changed since it was read.
      if (bundle == snapshot_->bundles.end()) return pending(std::move(target), tc.interval);
      if (!bundle->second) {
        return verdict(target, tc.interval, Diagnosis::kubernetes_api_error,
                       "CA bundle " + in_quotes(tc.ca) + ": " + bundle->second.error().message);
      }
      target.ca = *bundle->second;
    }
    if (tc.discover == Discovery::none) return probe(std::move(target), tc.interval);

    auto discovery = snapshot_->discoveries.find(target.name);
    if (discovery == snapshot_->discoveries.end()) return pending(std::move(target), tc.interval);
    if (!discovery->second) {
      return verdict(target, tc.interval, Diagnosis::kubernetes_api_error,
                     "endpoint discovery: " + discovery->second.error().message);
    }
    const std::vector<DiscoveredService>& services = *discovery->second;
    if (tc.discover == Discovery::endpoints) {
      if (services.empty()) return;
      return expand_service(target, tc, services.front());
    }
    if (services.empty()) {
      return verdict(target, tc.interval, Diagnosis::dns_not_found,
                     "no Service " + service->name + " or " + service->name + "-REVISION in " +
                         service->ns + ": Service \"" + service->name + "\" not found");
    }
    for (const DiscoveredService& found : services) {
      Target revision = target;
      const std::string host = found.service.host();
      revision.name = tc.target->name + "/" + found.service.name;
      revision.url = with_host(tc.target->url, tc.target->host, host);
      revision.host = host;
      if (!tc.explicit_server_name) revision.server_name = host;
      if (tc.via == Via::apiserver) {
        probe(std::move(revision), tc.interval);
      } else {
        expand_service(revision, tc, found);
      }
    }
  }

  // A Service becomes its endpoints: one target per pod port (nearly
  // always one), named after the target, probing every address.
  void expand_service(const Target& target, const TargetConfig& tc, const DiscoveredService& found) {
    if (!found.exists) {
      return verdict(target, tc.interval, Diagnosis::dns_not_found,
                     "Service \"" + found.service.name + "\" not found in namespace " +
                         found.service.ns + " (kubectl -n " + found.service.ns + " get svc)");
    }
    const auto& endpoints = found.endpoints.endpoints;
    if (endpoints.empty()) {
      return verdict(target, tc.interval, Diagnosis::tcp_refused,
                     "no endpoints available for service \"" + found.service.name +
                         "\": its EndpointSlices list no addresses (are the istiod pods running?)");
    }
    std::vector<std::uint16_t> ports;
    for (const kube::DiscoveredEndpoint& endpoint : endpoints) {
      if (std::find(ports.begin(), ports.end(), endpoint.port) == ports.end()) {
        ports.push_back(endpoint.port);
      }
    }
    for (std::uint16_t port : ports) {
      Target pinned = target;
      if (ports.size() > 1) pinned.name += ":" + std::to_string(port);
      pinned.port = port;
      for (const kube::DiscoveredEndpoint& endpoint : endpoints) {
        if (endpoint.port != port) continue;
        pinned.addresses.push_back(endpoint.address);
        pinned.address_labels[endpoint.address] = endpoint_labels(endpoint);
      }
      probe(std::move(pinned), tc.interval);
    }
  }

  const Config& config_;
  const KubeSnapshot* snapshot_;
  std::vector<ExpandedTarget> out_;
};

}  // namespace

std::vector<ExpandedTarget> expand_targets(const Config& config, const KubeSnapshot* snapshot) {
  return Expander(config, snapshot).run();
}

std::map<std::string, std::string> endpoint_labels(const kube::DiscoveredEndpoint& endpoint) {
  const auto flag = [](bool value) { return std::string(value ? "true" : "false"); };
  std::map<std::string, std::string> labels{{"ready", flag(endpoint.ready)},
                                            {"serving", flag(endpoint.serving)},
                                            {"terminating", flag(endpoint.terminating)},
                                            {"port", std::to_string(endpoint.port)}};
  if (!endpoint.pod.empty()) labels["pod"] = endpoint.pod;
  if (!endpoint.node.empty()) labels["node"] = endpoint.node;
  if (!endpoint.zone.empty()) labels["zone"] = endpoint.zone;
  return labels;
}

std::vector<Target> ca_check_targets(const kube::CaCheck& check,
                                     const kube::ServiceEndpoints& endpoints,
                                     std::shared_ptr<const CaBundle> ca,
                                     std::chrono::milliseconds timeout) {
  std::vector<Target> targets;
  for (const kube::DiscoveredEndpoint& endpoint : endpoints.endpoints) {
    auto same_port = std::find_if(targets.begin(), targets.end(),
                                  [&](const Target& t) { return t.port == endpoint.port; });
    if (same_port == targets.end()) {
      Target target;
      target.kind = ProbeKind::tls;
      target.host = check.service.host();
      target.server_name = check.service.host();
      target.port = endpoint.port;
      target.url = "tls://" + check.service.host() + ":" + std::to_string(check.port);
      target.name = "hygiene:" + target.url;
      target.ca = ca;
      target.timeout = timeout;
      targets.push_back(std::move(target));
      same_port = std::prev(targets.end());
    }
    same_port->addresses.push_back(endpoint.address);
    same_port->address_labels[endpoint.address] = endpoint_labels(endpoint);
  }
  return targets;
}

std::string kubernetes_builtin_config(const std::string& revision,
                                      const std::string& istio_namespace) {
  const std::string suffix = revision.empty() ? "" : "-" + revision;
  const std::string host = "istiod" + suffix + "." + istio_namespace + ".svc";
  return "kubernetes: {istio_namespace: " + istio_namespace + "}\n"
         "ca_bundles:\n"
         "  injector: {mutating_webhook: istio-sidecar-injector" + suffix + "}\n"
         "  mesh-root: {configmap: " + istio_namespace + "/istio-ca-root-cert, key: root-cert.pem}\n"
         "targets:\n"
         "  - name: istiod-webhook-pods\n"
         "    url: https://" + host + ":443/ready\n"
         "    discover: endpoints\n"
         "    ca: injector\n"
         "  - name: istiod-xds-pods\n"
         "    url: grpc://" + host + ":15012\n"
         "    discover: endpoints\n"
         "    ca: mesh-root\n"
         "  - name: istiod-webhook-from-apiserver\n"
         "    url: https://" + host + ":443/ready\n"
         "    via: apiserver\n";
}

}  // namespace meshprobe
