// Configured targets made probe-ready with what the Kubernetes API said:
// CA bundles from webhook configurations and ConfigMaps attached, Service
// hosts expanded to their endpoints (or revision Services), the API-server
// vantage marked. What cannot be probed (the Service is gone, no endpoints,
// the API refused a read) gets its result without a probe, with the
// diagnosis that says why. Pure: `check` and the agent share it.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "agent/results_store.h"
#include "config/config.h"
#include "kube/endpoint_discovery.h"
#include "kube/hygiene.h"
#include "probes/expected.h"

namespace meshprobe {

struct DiscoveredService {
  kube::ServiceName service;
  bool exists = false;
  kube::ServiceEndpoints endpoints;  // when it exists
};

// One read of everything the config needs from the cluster.
struct KubeSnapshot {
  WallClock::time_point read_at{};
  // By CA bundle name: the bundle, or why it could not be read.
  std::map<std::string, Expected<std::shared_ptr<const CaBundle>>> bundles;
  // By target name, for targets with `discover`.
  std::map<std::string, Expected<std::vector<DiscoveredService>>> discoveries;
  // The hygiene checks' input, or why it could not be read; unset when the
  // checks are off.
  std::optional<Expected<kube::ClusterView>> cluster;
  // The endpoints behind each of kube::ca_checks(cluster), in that order.
  std::vector<Expected<std::optional<kube::ServiceEndpoints>>> ca_check_endpoints;
};

struct ExpandedTarget {
  TargetSpec spec;
  // Set: not probed this round; this is its result.
  std::optional<ProbeResult> verdict;
  // Needs what the cluster has not been read for yet (the first read, or a
  // config newer than the last read): no result, no probe.
  bool pending = false;
};

// In config order; a revision-discovery target becomes one target per
// revision Service. `snapshot` null: nothing read yet.
std::vector<ExpandedTarget> expand_targets(const Config& config, const KubeSnapshot* snapshot);

// The labels a discovered endpoint's results carry (ready, serving,
// terminating, pod, node, zone, port).
std::map<std::string, std::string> endpoint_labels(const kube::DiscoveredEndpoint& endpoint);

// Targets (one per pod port) that pin `endpoints` and verify against `ca`
// for the Service's name: what the CA-mismatch check probes.
std::vector<Target> ca_check_targets(const kube::CaCheck& check,
                                     const kube::ServiceEndpoints& endpoints,
                                     std::shared_ptr<const CaBundle> ca,
                                     std::chrono::milliseconds timeout);

// The YAML `check --kubeconfig` probes when given no targets: istiod's
// webhook pods verified with the injector's caBundle, its xDS pods with the
// mesh root ConfigMap, and the webhook through the API server.
std::string kubernetes_builtin_config(const std::string& revision,
                                      const std::string& istio_namespace = "istio-system");

}  // namespace meshprobe
