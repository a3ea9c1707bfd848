// The hygiene checks of one snapshot: the findings that need no connection
// at once, then the CA-mismatch TLS probes (a handshake with each istiod
// endpoint, verified against the webhook's caBundle).
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <vector>

#include "kube/hygiene.h"
#include "kube/hygiene_report.h"
#include "kube/snapshot.h"
#include "probes/prober.h"

namespace meshprobe {

// `done` runs once with every finding (on the prober's io_context, or at
// once when nothing needs probing). The handles cancel the probes (shutdown).
std::vector<ProbeHandle> run_hygiene(Prober& prober, const KubeSnapshot& snapshot,
                                     std::chrono::milliseconds timeout,
                                     std::function<void(HygieneReport)> done);

// Targets (one per pod port) that pin `endpoints` and verify against `ca`
// for the Service's name: what the CA-mismatch check probes.
std::vector<Target> ca_check_targets(const kube::CaCheck& check,
                                     const kube::ServiceEndpoints& endpoints,
                                     std::shared_ptr<const CaBundle> ca,
                                     std::chrono::milliseconds timeout);

}  // namespace meshprobe
