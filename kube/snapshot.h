// One read of everything a config needs from the cluster: its CA bundles,
// the endpoints of its discovered Services, and the hygiene checks' view.
// Reading blocks (it is API requests); what it read is plain data that
// target expansion and the hygiene run use on the event loop.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/expected.h"
#include "config/config.h"
#include "config/service_host.h"
#include "kube/control_plane.h"
#include "kube/endpoint_discovery.h"
#include "kube/hygiene.h"
#include "kube/observed_failures.h"
#include "probes/ca_bundle.h"
#include "probes/result.h"

namespace meshprobe {

namespace kube {
class KubeApi;
}

struct DiscoveredService {
  ServiceName service;
  bool exists = false;
  kube::ServiceEndpoints endpoints;  // when it exists
};

struct KubeSnapshot {
  WallClock::time_point read_at{};
  // By CA bundle name: the bundle, or why it could not be read.
  std::map<std::string, Expected<std::shared_ptr<const CaBundle>>> bundles;
  // By target name, for targets with `discover`.
  std::map<std::string, Expected<std::vector<DiscoveredService>>> discoveries;
  // The hygiene checks' input, with the reads that failed; unset when the
  // checks are off.
  std::optional<kube::ClusterView> cluster;
  // The endpoints behind each of kube::ca_checks(cluster), in that order.
  std::vector<Expected<std::optional<kube::ServiceEndpoints>>> ca_check_endpoints;
  // The FailedCreate events of every namespace (with the hygiene checks):
  // the webhook calls the API server made for real that failed. Unset when
  // not read.
  std::optional<Expected<std::vector<kube::Event>>> failed_create_events;
  // The platform and the API server's addresses, for the webhook verdicts'
  // remedies; read with the hygiene view, unset when the checks are off.
  std::optional<kube::ControlPlaneRead> control_plane;
};

// Adds the snapshot's FailedCreate events to `log` (or why they could not be
// listed); nothing when they were not read.
void record_failed_creates(kube::ObservedFailureLog& log, const KubeSnapshot& snapshot);

// Reads everything `config` needs from the cluster; blocks.
KubeSnapshot read_snapshot(kube::KubeApi& api, const Config& config);

}  // namespace meshprobe
