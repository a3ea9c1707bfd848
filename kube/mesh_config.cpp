#include "kube/mesh_config.h"

#include <yaml-cpp/yaml.h>

#include <map>
#include <set>

#include "config/yaml_guard.h"
#include "kube/client/reads.h"
#include "probes/target.h"

namespace meshprobe::kube {

std::string mesh_config_map_name(std::string_view revision) {
  return revision.empty() || revision == "default" ? std::string("istio")
                                                   : "istio-" + std::string(revision);
}

std::string default_discovery_address(std::string_view revision, std::string_view istio_namespace) {
  const std::string service = revision.empty() || revision == "default"
                                  ? std::string("istiod")
                                  : "istiod-" + std::string(revision);
  return service + "." + std::string(istio_namespace) + ".svc:15012";
}

namespace {

// The discoveryAddress of a ProxyConfig mapping, or nullopt; `where` names
// it in errors ("defaultConfig." inside a MeshConfig, "" in an annotation).
Expected<std::optional<std::string>> proxy_discovery_address(const YAML::Node& proxy,
                                                             const std::string& where) {
  if (!proxy || proxy.IsNull()) return std::optional<std::string>();
  if (!proxy.IsMap()) return Error{"has a " + where + " that is not a mapping"};
  const YAML::Node address = proxy["discoveryAddress"];
  if (!address || address.IsNull()) return std::optional<std::string>();
  if (!address.IsScalar()) {
    return Error{"has a " + (where.empty() ? std::string() : where + ".") +
                 "discoveryAddress that is not text"};
  }
  std::string text = address.as<std::string>();
  if (text.empty()) return std::optional<std::string>();
  return std::optional<std::string>(std::move(text));
}

// Parses `yaml` and hands its root to `read`; YAML errors as values.
template <class Read>
Expected<std::optional<std::string>> with_yaml_root(const std::string& yaml, Read read) {
  const YamlRead parsed = read_yaml_document(yaml);
  if (parsed.error) {
    return Error{"is not valid YAML (line " + std::to_string(parsed.error->line) +
                 "): " + parsed.error->message};
  }
  try {
    const YAML::Node& root = parsed.document.root;
    if (!root || root.IsNull()) return std::optional<std::string>();
    return read(root);
  } catch (const YAML::Exception& e) {
    return Error{"could not be read: " + std::string(e.what())};
  }
}

// The Service the address's host names, and whether it exists; an error
// when the address is not HOST:PORT or the Service's read failed.
std::optional<Error> resolve_service(KubeApi& api, MeshDiscovery& found) {
  found.service.reset();
  found.service_exists = false;
  auto target = parse_target_url(found.xds_url());
  if (!target) {
    return Error{"the discovery address \"" + found.address +
                 "\" is not HOST:PORT: " + target.error().message};
  }
  found.service = parse_service_host(target->host);
  if (found.service) {
    auto service = api.get_service(found.service->ns, found.service->name);
    if (!service) {
      return Error{"reading Service " + found.service->host() + ": " + service.error().message};
    }
    found.service_exists = service->has_value();
  }
  return std::nullopt;
}

}  // namespace

Expected<std::optional<std::string>> discovery_address_of_mesh(const std::string& mesh_yaml) {
  return with_yaml_root(mesh_yaml, [](const YAML::Node& root) {
    if (!root.IsMap()) {
      return Expected<std::optional<std::string>>(
          Error{"is not a MeshConfig: its YAML is not a mapping"});
    }
    return proxy_discovery_address(root["defaultConfig"], "defaultConfig");
  });
}

Expected<std::optional<std::string>> discovery_address_of_proxy_config(
    const std::string& proxy_config_yaml) {
  return with_yaml_root(proxy_config_yaml, [](const YAML::Node& root) {
    return proxy_discovery_address(root, "ProxyConfig");
  });
}

std::vector<MeshDiscovery> pod_discovery_overrides(std::span<const Pod> pods) {
  struct Seen {
    std::size_t pods = 0;
    std::string first;  // NS/NAME of the first pod met with it
  };
  std::map<std::string, Seen> by_address;
  std::set<std::string> counted;  // a pod can come from two lists
  for (const Pod& pod : pods) {
    if (!counted.insert(pod.ns + "/" + pod.name).second) continue;
    auto annotation = pod.annotations.find(std::string(kProxyConfigAnnotation));
    if (annotation == pod.annotations.end()) continue;
    // An annotation that does not parse never reached a proxy: the injector
    // refuses it, so the pod's own events say so. Nothing to probe here.
    auto address = discovery_address_of_proxy_config(annotation->second);
    if (!address || !*address) continue;
    Seen& seen = by_address[**address];
    if (seen.pods++ == 0) seen.first = pod.ns + "/" + pod.name;
  }
  std::vector<MeshDiscovery> out;
  for (auto& [address, seen] : by_address) {
    if (out.size() == kMaxPodDiscoveryOverrides) break;
    MeshDiscovery found;
    found.address = address;
    found.configured = true;
    found.source = "annotation " + std::string(kProxyConfigAnnotation) + " of " +
                   std::to_string(seen.pods) + (seen.pods == 1 ? " pod (" : " pods (first: ") +
                   seen.first + ")";
    out.push_back(std::move(found));
  }
  return out;
}

void resolve_pod_discovery_services(KubeApi& api, std::vector<MeshDiscovery>& overrides) {
  std::erase_if(overrides, [&api](MeshDiscovery& found) {
    // Dropped when its Service cannot be read: a Service not known to exist
    // must not be called missing. Not HOST:PORT: kept, with no Service.
    return resolve_service(api, found).has_value() && found.service.has_value();
  });
}

Expected<MeshDiscovery> read_mesh_discovery(KubeApi& api, const std::string& istio_namespace,
                                            const std::string& revision) {
  const std::string name = mesh_config_map_name(revision);
  const std::string where = "ConfigMap " + istio_namespace + "/" + name;
  auto config_map = api.get_config_map(istio_namespace, name);
  if (!config_map) return Error{"reading " + where + ": " + config_map.error().message};

  MeshDiscovery found;
  found.address = default_discovery_address(revision, istio_namespace);
  if (!*config_map) {
    found.source = "Istio's default (" + where + " does not exist)";
  } else if (auto mesh = (*config_map)->data.find(std::string(kMeshConfigKey));
             mesh == (*config_map)->data.end()) {
    found.source = "Istio's default (" + where + " has no key \"mesh\")";
  } else {
    auto address = discovery_address_of_mesh(mesh->second);
    if (!address) return Error{where + ": its key \"mesh\" " + address.error().message};
    if (*address) {
      found.address = **address;
      found.configured = true;
      found.source = where + " (mesh: defaultConfig.discoveryAddress)";
    } else {
      found.source = "Istio's default (" + where + " sets no defaultConfig.discoveryAddress)";
    }
  }

  if (auto error = resolve_service(api, found)) {
    // A failed Service read says which Service; an address that is not
    // HOST:PORT is the ConfigMap's.
    return found.service ? *error : Error{where + ": " + error->message};
  }
  return found;
}

}  // namespace meshprobe::kube
