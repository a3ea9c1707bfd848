// What the webhook verdicts' remedies need of the control plane: the
// platform the cluster runs on (one node's spec.providerID) and the API
// server's own addresses (the `default/kubernetes` EndpointSlice). Two small
// reads beside the hygiene view; each may fail alone (a 403, a 404) and then
// leaves its part unknown and says why, while the verdicts still stand.
#pragma once

#include <span>
#include <string>
#include <vector>

#include "kube/client/objects.h"
#include "kube/webhook_verdict.h"

namespace meshprobe::kube {

class KubeApi;

struct ControlPlaneRead {
  ControlPlaneContext context;
  // The reads that failed, in the API server's words with the missing RBAC
  // ("nodes: forbidden (403): meshprobe needs RBAC verb \"list\" on ...").
  std::vector<std::string> unread;
};

// The platform of the first node that names one; unknown when none does.
Platform platform_of(std::span<const Node> nodes);

// The API server's IPs in the `kubernetes` Service's slices, in order, each
// once; FQDN slices are left out (a firewall rule takes addresses).
std::vector<std::string> api_server_addresses(std::span<const EndpointSlice> slices);

// Two requests: GET /api/v1/nodes?limit=1 and the kubernetes Service's
// EndpointSlices in namespace default. Blocks.
ControlPlaneRead read_control_plane(KubeApi& api);

}  // namespace meshprobe::kube
