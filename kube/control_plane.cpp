#include "kube/control_plane.h"

#include <algorithm>

#include "kube/client/reads.h"

namespace meshprobe::kube {

Platform platform_of(std::span<const Node> nodes) {
  for (const Node& node : nodes) {
    const Platform platform = platform_from_provider_id(node.provider_id);
    if (platform != Platform::unknown) return platform;
  }
  return Platform::unknown;
}

std::vector<std::string> api_server_addresses(std::span<const EndpointSlice> slices) {
  std::vector<std::string> addresses;
  for (const EndpointSlice& slice : slices) {
    if (slice.address_type != "IPv4" && slice.address_type != "IPv6") continue;
    for (const Endpoint& endpoint : slice.endpoints) {
      for (const std::string& address : endpoint.addresses) {
        if (std::ranges::find(addresses, address) == addresses.end()) addresses.push_back(address);
      }
    }
  }
  return addresses;
}

ControlPlaneRead read_control_plane(KubeApi& api) {
  ControlPlaneRead read;
  // One node is enough: a cluster's nodes share a provider.
  if (auto nodes = api.list_some_nodes(1)) {
    read.context.platform = platform_of(*nodes);
  } else {
    read.unread.push_back("nodes: " + nodes.error().message);
  }
  if (auto slices = api.list_kubernetes_endpoint_slices()) {
    read.context.addresses = api_server_addresses(*slices);
  } else {
    read.unread.push_back("the kubernetes Service's EndpointSlices: " + slices.error().message);
  }
  return read;
}

}  // namespace meshprobe::kube
