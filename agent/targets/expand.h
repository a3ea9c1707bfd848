// Configured targets made probe-ready with what the Kubernetes API said:
// CA bundles from webhook configurations and ConfigMaps attached, Service
// hosts expanded to their endpoints (or revision Services), the API-server
// vantage marked. What cannot be probed (the Service is gone, no endpoints,
// the API refused a read) gets its result without a probe, with the
// diagnosis that says why. Pure: `check` and the agent share it.
#pragma once

#include <chrono>
#include <optional>
#include <vector>

#include "agent/targets/spec.h"
#include "config/config.h"
#include "kube/snapshot.h"
#include "probes/result.h"

namespace meshprobe {

struct ExpandedTarget {
  TargetSpec spec;
  // Set: not probed this round; this is its result.
  std::optional<ProbeResult> verdict;
  // Needs what the cluster has not been read for yet (the first read, or a
  // config newer than the last read): no result, no probe.
  bool pending = false;
};

// What a one-off run imposes on every target, over the config's own
// settings (`check --timeout`).
struct Overrides {
  std::optional<std::chrono::milliseconds> timeout;
};

// In config order; a revision-discovery target becomes one target per
// revision Service. `snapshot` null: nothing read yet.
std::vector<ExpandedTarget> expand_targets(const Config& config, const KubeSnapshot* snapshot,
                                           const Overrides& overrides = {});

}  // namespace meshprobe
