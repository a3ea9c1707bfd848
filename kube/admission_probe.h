// Admission targets (`admission: inject|validate`): a server-side dry-run
// create through the Kubernetes API server, so the API server runs its
// admission chain and calls istiod's webhooks exactly as for a real object
// -- with its own network path, its own caBundle check and its own
// timeouts -- and persists nothing. Its answer is the probe's verdict: the
// pod came back with istio-proxy (or the invalid Gateway was refused), or
// the API server's words for the webhook call that failed, read into the
// diagnosis catalogue (kube/webhook_call_error.h).
#pragma once

#include <atomic>
#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "config/config.h"
#include "kube/client/api_client.h"
#include "probes/result.h"
#include "probes/target.h"

namespace meshprobe::kube {

class KubeApi;

// The collection POSTed to: /api/v1/namespaces/NS/pods, or the Gateways of
// networking.istio.io/v1beta1 in NS.
std::string dry_run_collection(Admission mode, std::string_view ns);
// The object created: a minimal Pod (a pause image, never pulled: nothing
// is persisted) or a Gateway without servers, which istiod's validation
// refuses -- the object istiod itself dry-runs before it makes its own
// validating webhook fail closed.
std::string dry_run_object(Admission mode, std::string_view ns);

struct AdmissionVerdict {
  Diagnosis diagnosis = Diagnosis::ok;
  std::optional<Phase> failed_phase;
  std::string message;
  std::string webhook;      // the webhook the API server named, when it named one
  std::string webhook_url;  // what it posted to, when it said
};

// Judges the API server's answer to one dry-run create. `budget` is the
// probe's timeout, `server` the API server's URL (for messages).
AdmissionVerdict judge_admission_response(Admission mode, const HttpResponse& response,
                                          std::string_view ns, std::chrono::milliseconds budget,
                                          std::string_view server);

// One admission probe: Target::host is the namespace. Blocks for at most
// target.timeout.
ProbeResult probe_admission(KubeApi& api, const Target& target, Admission mode,
                            const std::atomic<bool>* cancel);

}  // namespace meshprobe::kube
