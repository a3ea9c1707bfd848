// What one round knows of each istio webhook, gathered for judge_webhook
// (kube/webhook_verdict.h): the webhook configurations and the endpoints of
// the snapshot, the round's probe results (the admission targets' real call,
// the API server's pod-proxy dials, this agent's direct probes of the same
// pod IP and port), and the hygiene report (stale Service, caBundle). Pure.
#pragma once

#include <span>
#include <vector>

#include "kube/hygiene_report.h"
#include "kube/snapshot.h"
#include "kube/webhook_verdict.h"
#include "probes/result.h"

namespace meshprobe::kube {

// One verdict per webhook that calls a Service in istio's namespace, in the
// order of the cluster view (mutating, then validating). None without the
// cluster view (hygiene off).
std::vector<WebhookVerdict> webhook_verdicts(const KubeSnapshot& snapshot,
                                             std::span<const ProbeResult> results,
                                             const HygieneReport& hygiene);

}  // namespace meshprobe::kube
