#include "kube/mesh_config.h"

#include <yaml-cpp/yaml.h>

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

Expected<std::optional<std::string>> discovery_address_of_mesh(const std::string& mesh_yaml) {
  const YamlRead read = read_yaml_document(mesh_yaml);
  if (read.error) {
    return Error{"is not valid YAML (line " + std::to_string(read.error->line) +
                 "): " + read.error->message};
  }
  try {
    const YAML::Node& root = read.document.root;
    if (!root || root.IsNull()) return std::optional<std::string>();
    if (!root.IsMap()) return Error{"is not a MeshConfig: its YAML is not a mapping"};
    const YAML::Node proxy = root["defaultConfig"];
    if (!proxy || proxy.IsNull()) return std::optional<std::string>();
    if (!proxy.IsMap()) return Error{"has a defaultConfig that is not a mapping"};
    const YAML::Node address = proxy["discoveryAddress"];
    if (!address || address.IsNull()) return std::optional<std::string>();
    if (!address.IsScalar()) return Error{"has a defaultConfig.discoveryAddress that is not text"};
    const std::string text = address.as<std::string>();
    if (text.empty()) return std::optional<std::string>();
    return std::optional<std::string>(text);
  } catch (const YAML::Exception& e) {
    return Error{"could not be read: " + std::string(e.what())};
  }
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

  auto target = parse_target_url(found.xds_url());
  if (!target) {
    return Error{where + ": the discovery address \"" + found.address +
                 "\" is not HOST:PORT: " + target.error().message};
  }
  found.service = parse_service_host(target->host);
  if (found.service) {
    auto service = api.get_service(found.service->ns, found.service->name);
    if (!service)
      return Error{"reading Service " + found.service->host() + ": " + service.error().message};
    found.service_exists = service->has_value();
  }
  return found;
}

}  // namespace meshprobe::kube
