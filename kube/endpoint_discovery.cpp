#include "kube/endpoint_discovery.h"

#include <arpa/inet.h>

#include <algorithm>
#include <set>

#include "common/text.h"
#include "kube/client/reads.h"

namespace meshprobe::kube {
namespace {

std::string describe_ports(const Service& service) {
  std::string out;
  for (const ServicePort& port : service.ports) {
    if (!out.empty()) out += ", ";
    out += std::to_string(port.port) + "->" +
           (port.target_port.name.empty() ? std::to_string(port.target_port.number)
                                          : port.target_port.name);
    if (!port.name.empty()) out += " (" + port.name + ")";
  }
  return out.empty() ? "none" : out;
}

bool is_tcp(std::string_view protocol) { return protocol.empty() || protocol == "TCP"; }

}  // namespace

std::optional<std::string> canonical_ip(std::string_view address) {
  const std::string text(address);
  char buffer[INET6_ADDRSTRLEN] = {};
  unsigned char bytes[sizeof(in6_addr)] = {};
  if (inet_pton(AF_INET, text.c_str(), bytes) == 1) {
    return std::string(inet_ntop(AF_INET, bytes, buffer, sizeof buffer));
  }
  if (inet_pton(AF_INET6, text.c_str(), bytes) == 1) {
    return std::string(inet_ntop(AF_INET6, bytes, buffer, sizeof buffer));
  }
  return std::nullopt;
}

Expected<std::uint16_t> endpoint_port(const Service& service, std::uint16_t service_port,
                                      const EndpointSlice& slice) {
  const auto port = std::find_if(
      service.ports.begin(), service.ports.end(),
      [&](const ServicePort& p) { return p.port == service_port && is_tcp(p.protocol); });
  const std::string service_text = "Service " + service.ns + "/" + service.name;
  if (port == service.ports.end()) {
    // Not a Service port: the URL may name the pod port itself.
    const bool pod_port = std::any_of(
        slice.ports.begin(), slice.ports.end(),
        [&](const EndpointPort& p) { return p.port == service_port && is_tcp(p.protocol); });
    if (pod_port) return service_port;
    return Error{service_text + " has no port " + std::to_string(service_port) +
                 " (its ports: " + describe_ports(service) + ")"};
  }
  // The endpoints controller names slice ports after the Service port and
  // gives them the resolved target port: that covers named targetPorts.
  for (const EndpointPort& candidate : slice.ports) {
    if (candidate.name == port->name && is_tcp(candidate.protocol) && candidate.port != 0) {
      return candidate.port;
    }
  }
  if (port->target_port.number != 0) return port->target_port.number;
  return Error{service_text + " port " + std::to_string(service_port) + " targets the named port " +
               in_quotes(port->target_port.name) + ", and EndpointSlice " + slice.name +
               " does not resolve it"};
}

Expected<ServiceEndpoints> endpoints_of(const Service& service, std::uint16_t service_port,
                                        const std::vector<EndpointSlice>& slices) {
  ServiceEndpoints out;
  out.service = {service.name, service.ns};
  for (const ServicePort& port : service.ports) {
    if (port.port == service_port && is_tcp(port.protocol)) out.port_name = port.name;
  }
  std::set<std::string> seen;
  for (const EndpointSlice& slice : slices) {
    if (slice.address_type == "FQDN") continue;  // names, not pod IPs
    if (slice.endpoints.empty()) continue;
    auto port = endpoint_port(service, service_port, slice);
    if (!port) return port.error();
    for (const Endpoint& endpoint : slice.endpoints) {
      for (const std::string& address : endpoint.addresses) {
        const auto ip = canonical_ip(address);
        if (!ip || !seen.insert(*ip).second) continue;
        out.endpoints.push_back({*ip, *port, endpoint.ready, endpoint.serving, endpoint.terminating,
                                 endpoint.pod, endpoint.node, endpoint.zone});
      }
    }
  }
  return out;
}

Expected<std::optional<ServiceEndpoints>> discover_endpoints(KubeApi& api, const ServiceName& name,
                                                             std::uint16_t service_port) {
  auto service = api.get_service(name.ns, name.name);
  if (!service) return service.error();
  if (!*service) return std::optional<ServiceEndpoints>();
  auto slices = api.list_endpoint_slices(name.ns, name.name);
  if (!slices) return slices.error();
  auto endpoints = endpoints_of(**service, service_port, *slices);
  if (!endpoints) return endpoints.error();
  return std::optional<ServiceEndpoints>(std::move(*endpoints));
}

bool is_revision_of(std::string_view service, std::string_view base) {
  return service == base || (service.size() > base.size() + 1 && service.starts_with(base) &&
                             service[base.size()] == '-');
}

Expected<std::vector<std::string>> revision_services(KubeApi& api, const std::string& ns,
                                                     std::string_view base) {
  auto services = api.list_services(ns);
  if (!services) return services.error();
  std::vector<std::string> names;
  for (const Service& service : *services) {
    if (is_revision_of(service.name, base)) names.push_back(service.name);
  }
  std::sort(names.begin(), names.end());
  return names;
}

std::map<std::string, std::string> endpoint_labels(const DiscoveredEndpoint& endpoint) {
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

}  // namespace meshprobe::kube
