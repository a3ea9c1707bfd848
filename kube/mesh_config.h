// The mesh config's discovery address: where the sidecars' pilot-agent
// opens its xDS stream. Istio keeps the MeshConfig as YAML under the key
// `mesh` of the ConfigMap `istio` (default revision) or `istio-REV` in
// istio's namespace; `defaultConfig.discoveryAddress` is the address every
// injected proxy dials unless its pod's `proxy.istio.io/config` says
// otherwise. Unset, Istio's default is istiod[-REV].NS.svc:15012.
#pragma once

#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/expected.h"
#include "config/service_host.h"
#include "kube/client/objects.h"

namespace meshprobe::kube {

class KubeApi;

inline constexpr std::string_view kMeshConfigKey = "mesh";
// A pod's own ProxyConfig (YAML), which overrides the mesh's defaultConfig.
inline constexpr std::string_view kProxyConfigAnnotation = "proxy.istio.io/config";
// At most this many distinct pod overrides are checked (the first by address).
inline constexpr std::size_t kMaxPodDiscoveryOverrides = 8;

// `istio` for the default revision, `istio-REV` otherwise.
std::string mesh_config_map_name(std::string_view revision);

// istiod[-REV].NS.svc:15012: what the injector writes when the mesh config
// names no discovery address.
std::string default_discovery_address(std::string_view revision, std::string_view istio_namespace);

// defaultConfig.discoveryAddress of a MeshConfig YAML document; nullopt when
// the document does not set it; an error when the YAML does not parse or
// the value is not a string.
Expected<std::optional<std::string>> discovery_address_of_mesh(const std::string& mesh_yaml);

// discoveryAddress of a ProxyConfig YAML document (a pod's
// proxy.istio.io/config annotation); nullopt when it sets none.
Expected<std::optional<std::string>> discovery_address_of_proxy_config(
    const std::string& proxy_config_yaml);

struct MeshDiscovery {
  std::string address;  // HOST:PORT, as the proxies are given it
  // Where it came from: "ConfigMap istio-system/istio-REV (mesh:
  // defaultConfig.discoveryAddress)", Istio's default and why, or "annotation
  // proxy.istio.io/config of 3 pods (first: NS/NAME)".
  std::string source;
  bool configured = false;  // false: Istio's default (no ConfigMap, or it sets none)
  // The address's host as a Service (SVC.NS.svc[.cluster.local]), and
  // whether that Service exists; unset for an IP or another DNS name.
  std::optional<ServiceName> service;
  bool service_exists = false;

  // grpc://ADDRESS: the xDS target that probes it.
  std::string xds_url() const { return "grpc://" + address; }
};

// Reads the mesh ConfigMap of `revision` in `istio_namespace` and, when the
// address names a Service, that Service. Blocks. An error when a read fails
// (RBAC, the API server) or the mesh key is not valid YAML: the API
// server's or the parser's words, naming the ConfigMap.
Expected<MeshDiscovery> read_mesh_discovery(KubeApi& api, const std::string& istio_namespace,
                                            const std::string& revision);

// The discovery addresses `pods` set for themselves in their
// proxy.istio.io/config annotation, one per address (sorted, at most
// kMaxPodDiscoveryOverrides), with how many pods and the first; their
// Services are not resolved yet. Annotations that do not parse are skipped.
std::vector<MeshDiscovery> pod_discovery_overrides(std::span<const Pod> pods);

// Resolves each override's Service (one GET each). An override whose
// Service cannot be read is dropped: the mesh config's own read of Services
// reports the API's failure, and a Service not known to exist is never
// called missing.
void resolve_pod_discovery_services(KubeApi& api, std::vector<MeshDiscovery>& overrides);

}  // namespace meshprobe::kube
