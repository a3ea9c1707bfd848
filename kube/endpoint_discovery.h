// A Service's endpoints as probe addresses: the pod IPs of its EndpointSlices
// (ready and not ready), each with the pod port behind the Service port the
// URL names. The mapping goes through the Service's targetPort as the API
// server and kube-proxy do: istiod's Service port 443 reaches its pods on
// 15017 (targetPort 15017 or a named port resolved in the EndpointSlice).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/expected.h"
#include "config/service_host.h"
#include "kube/client/objects.h"

namespace meshprobe::kube {

class KubeApi;

struct DiscoveredEndpoint {
  std::string address;     // canonical IP text
  std::uint16_t port = 0;  // the pod port behind the Service port
  bool ready = true;
  bool serving = true;
  bool terminating = false;
  std::string pod;
  std::string node;
  std::string zone;
};

struct ServiceEndpoints {
  ServiceName service;
  std::string port_name;  // the Service port's name, when the URL named one
  std::vector<DiscoveredEndpoint> endpoints;
};

// The pod port behind `service_port` in one slice. A port that is not one of
// the Service's but is one of the slice's (the URL names 15017 directly) is
// taken as is.
Expected<std::uint16_t> endpoint_port(const Service& service, std::uint16_t service_port,
                                      const EndpointSlice& slice);

// Every IP endpoint of `slices` (FQDN slices have none), each address once.
Expected<ServiceEndpoints> endpoints_of(const Service& service, std::uint16_t service_port,
                                        const std::vector<EndpointSlice>& slices);

// Reads the Service and its slices. nullopt: the Service does not exist.
Expected<std::optional<ServiceEndpoints>> discover_endpoints(KubeApi& api,
                                                             const ServiceName& service,
                                                             std::uint16_t service_port);

// Revision discovery: `base` itself and every `base-REVISION` ("istiod",
// "istiod-1-22", "istiod-canary"), as istiod names its per-revision Services.
bool is_revision_of(std::string_view service, std::string_view base);

// The revision Services of `base` in `ns`, by name.
Expected<std::vector<std::string>> revision_services(KubeApi& api, const std::string& ns,
                                                     std::string_view base);

// "10.0.0.5" for "10.0.0.5", "fd00::5" for "fd00:0::0005": the text the
// prober reports for the address. nullopt when it is not an IP address.
std::optional<std::string> canonical_ip(std::string_view address);

// The labels a discovered endpoint's results carry (ready, serving,
// terminating, pod, node, zone, port).
std::map<std::string, std::string> endpoint_labels(const DiscoveredEndpoint& endpoint);

}  // namespace meshprobe::kube
