#include "kube/snapshot.h"

#include <map>
#include <utility>

#include "kube/ca_sources.h"
#include "kube/client/reads.h"

namespace meshprobe {
namespace {

kube::CaSourceRef source_ref(const CaBundleSource& source) {
  kube::CaSourceRef ref;
  switch (source.kind) {
    case CaSourceKind::mutating_webhook:
      ref.kind = kube::CaSourceRef::Kind::mutating_webhook;
      break;
    case CaSourceKind::validating_webhook:
      ref.kind = kube::CaSourceRef::Kind::validating_webhook;
      break;
    default: ref.kind = kube::CaSourceRef::Kind::configmap; break;
  }
  ref.name = source.object_name;
  ref.webhook = source.webhook;
  ref.ns = source.object_namespace;
  ref.key = source.key;
  return ref;
}

Expected<std::shared_ptr<const CaBundle>> read_bundle(kube::KubeApi& api,
                                                      const CaBundleSource& source) {
  auto fetched = kube::fetch_ca(api, source_ref(source));
  if (!fetched) return fetched.error();
  // No caBundle: the API server trusts nothing for this webhook, and the
  // probe verifying "as the API server would" must not either.
  if (fetched->pem.empty()) {
    return CaBundle::empty(fetched->source + " (empty: the webhook has no caBundle)");
  }
  return CaBundle::from_pem(fetched->pem, fetched->source);
}

// Reads each Service and its slices once per snapshot, however many targets
// and webhooks name it: a fleet of agents multiplies every request.
class ServiceReader {
 public:
  explicit ServiceReader(kube::KubeApi& api) : api_(api) {}

  Expected<DiscoveredService> discover(const ServiceName& name, std::uint16_t port) {
    const auto& data = service(name);
    if (!data) return data.error();
    DiscoveredService found;
    found.service = name;
    if (!*data) return found;  // does not exist
    found.exists = true;
    auto endpoints = kube::endpoints_of((*data)->service, port, (*data)->slices);
    if (!endpoints) return endpoints.error();
    found.endpoints = std::move(*endpoints);
    return found;
  }

 private:
  struct ServiceData {
    kube::Service service;
    std::vector<kube::EndpointSlice> slices;
  };
  using Entry = Expected<std::optional<ServiceData>>;

  const Entry& service(const ServiceName& name) {
    const auto key = std::make_pair(name.ns, name.name);
    if (auto cached = cache_.find(key); cached != cache_.end()) return cached->second;
    return cache_.emplace(key, load(name)).first->second;
  }

  Entry load(const ServiceName& name) {
    auto service = api_.get_service(name.ns, name.name);
    if (!service) return service.error();
    if (!*service) return std::optional<ServiceData>();
    auto slices = api_.list_endpoint_slices(name.ns, name.name);
    if (!slices) return slices.error();
    return std::optional<ServiceData>(ServiceData{std::move(**service), std::move(*slices)});
  }

  kube::KubeApi& api_;
  std::map<std::pair<std::string, std::string>, Entry> cache_;
};

Expected<std::vector<DiscoveredService>> discover(ServiceReader& reader, kube::KubeApi& api,
                                                  const TargetConfig& tc) {
  const auto service = parse_service_host(tc.target->host);
  if (!service) return Error{tc.target->host + " is not a Service host"};
  std::vector<DiscoveredService> found;
  if (tc.discover == Discovery::endpoints) {
    auto one = reader.discover(*service, tc.target->port);
    if (!one) return one.error();
    found.push_back(std::move(*one));
    return found;
  }
  auto names = kube::revision_services(api, service->ns, service->name);
  if (!names) return names.error();
  for (const std::string& name : *names) {
    const ServiceName revision{name, service->ns};
    if (tc.via == Via::apiserver) {
      // The API server finds the endpoints itself.
      found.push_back({revision, true, {}});
      continue;
    }
    auto one = reader.discover(revision, tc.target->port);
    if (!one) return one.error();
    found.push_back(std::move(*one));
  }
  return found;
}

// Its own read, so a 403 on events costs only the observed failures.
void read_failed_creates(kube::KubeApi& api, KubeSnapshot& snapshot) {
  snapshot.failed_create_events = api.list_failed_create_events();
}

}  // namespace

KubeSnapshot read_snapshot(kube::KubeApi& api, const Config& config) {
  KubeSnapshot snapshot;
  snapshot.read_at = WallClock::now();
  for (const CaBundleSource& source : config.ca_bundles) {
    if (from_kubernetes(source.kind))
      snapshot.bundles.emplace(source.name, read_bundle(api, source));
  }
  ServiceReader reader(api);
  for (const TargetConfig& tc : config.targets) {
    if (tc.discover == Discovery::none) continue;
    snapshot.discoveries.emplace(tc.target->name, discover(reader, api, tc));
  }
  if (config.kubernetes.hygiene) {
    snapshot.cluster =
        kube::read_cluster_view(api, config.kubernetes.istio_namespace, config.kubernetes.revision);
    for (const kube::CaCheck& check : kube::ca_checks(*snapshot.cluster)) {
      auto found = reader.discover(check.service, check.port);
      if (!found) {
        snapshot.ca_check_endpoints.emplace_back(found.error());
      } else if (!found->exists) {
        snapshot.ca_check_endpoints.emplace_back(std::optional<kube::ServiceEndpoints>());
      } else {
        snapshot.ca_check_endpoints.emplace_back(
            std::optional<kube::ServiceEndpoints>(std::move(found->endpoints)));
      }
    }
    read_failed_creates(api, snapshot);
    snapshot.control_plane = kube::read_control_plane(api);
  }
  return snapshot;
}

void record_failed_creates(kube::ObservedFailureLog& log, const KubeSnapshot& snapshot) {
  if (!snapshot.failed_create_events) return;
  if (*snapshot.failed_create_events) {
    log.record(**snapshot.failed_create_events);
  } else {
    log.record_error(snapshot.failed_create_events->error().message);
  }
}

}  // namespace meshprobe
