#include "agent/targets/expand.h"

#include <algorithm>

#include "common/text.h"
#include "kube/apiserver_proxy.h"

namespace meshprobe {
namespace {

ProbeResult verdict_for(const Target& target, const KubeSnapshot& snapshot, Diagnosis diagnosis,
                        std::string message) {
  ProbeResult result = result_for(target);
  result.success = false;
  result.diagnosis = diagnosis;
  result.failed_phase = Phase::resolve;
  result.message = std::move(message);
  result.started_at = snapshot.read_at;
  // A negative test's Service without endpoints is as blocked as a dropped
  // SYN: judged as the prober judges a probe.
  apply_expectation(result);
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
  Expander(const Config& config, const KubeSnapshot* snapshot, const Overrides& overrides)
      : config_(config), snapshot_(snapshot), overrides_(overrides) {}

  std::vector<ExpandedTarget> run() {
    for (const TargetConfig& tc : config_.targets) expand(tc);
    return std::move(out_);
  }

 private:
  void probe(std::shared_ptr<const Target> target, std::chrono::milliseconds interval) {
    if (overrides_.timeout && target->timeout != *overrides_.timeout) {
      Target overridden = *target;
      overridden.timeout = *overrides_.timeout;
      target = std::make_shared<const Target>(std::move(overridden));
    }
    out_.push_back({{std::move(target), interval}, {}, false});
  }
  void probe(Target target, std::chrono::milliseconds interval) {
    probe(std::make_shared<const Target>(std::move(target)), interval);
  }

  void pending(Target target, std::chrono::milliseconds interval) {
    if (overrides_.timeout) target.timeout = *overrides_.timeout;
    out_.push_back({{std::make_shared<const Target>(std::move(target)), interval}, {}, true});
  }

  void verdict(const Target& target, std::chrono::milliseconds interval, Diagnosis diagnosis,
               std::string message) {
    ProbeResult result = verdict_for(target, *snapshot_, diagnosis, std::move(message));
    out_.push_back({{std::make_shared<const Target>(target), interval}, std::move(result), false});
  }

  void expand(const TargetConfig& tc) {
    // Nearly every target is probed as configured: share the config's
    // Target rather than hold a second copy of it.
    if (!tc.needs_kubernetes()) return probe(tc.target, tc.interval);
    Target target = *tc.target;
    if (tc.via == Via::apiserver) {
      target.via = std::string(kube::kApiserverVantage);
      target.vantage = std::string(kube::kApiserverVantage);
    }
    if (snapshot_ == nullptr) return pending(std::move(target), tc.interval);
    // The Service name as the API server uses it is what istiod's
    // certificate covers, also for a host written with .cluster.local.
    const auto service = parse_service_host(target.host);
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
  void expand_service(const Target& target, const TargetConfig& tc,
                      const DiscoveredService& found) {
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
  const Overrides& overrides_;
  std::vector<ExpandedTarget> out_;
};

}  // namespace

std::vector<ExpandedTarget> expand_targets(const Config& config, const KubeSnapshot* snapshot,
                                           const Overrides& overrides) {
  return Expander(config, snapshot, overrides).run();
}

}  // namespace meshprobe
