// One verdict per istio webhook: what every vantage saw of the path the API
// server takes to call it -- the Service, its ready endpoints, the network
// between the control plane and the nodes, the caBundle, the call itself --
// joined into the first broken hop, named with the pod IP:port and a remedy
// for the platform the cluster runs on. Pure: the caller gathers the facts
// (the admission probe, the API server's proxy dials, this agent's direct
// probes, the hygiene findings, the node's providerID, the control plane's
// addresses) and shows the verdict.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "config/service_host.h"
#include "kube/client/objects.h"
#include "kube/hygiene.h"
#include "kube/observed_failures.h"
#include "probes/diagnosis.h"
#include "probes/result.h"

namespace meshprobe::kube {

// The managed platform a cluster runs on, as its nodes' spec.providerID says.
enum class Platform { unknown, gke, eks, aks };

// "gke", "eks", "aks", "unknown".
std::string_view platform_name(Platform platform);

// `gce://PROJECT/ZONE/NODE` → gke, `aws:///ZONE/INSTANCE` → eks,
// `azure:///subscriptions/...` → aks; anything else (kind, bare metal, an
// empty providerID) → unknown.
Platform platform_from_provider_id(std::string_view provider_id);

// What is known of the control plane, for the remedies.
struct ControlPlaneContext {
  Platform platform = Platform::unknown;
  // The API server's addresses, from the `default/kubernetes` EndpointSlice;
  // empty when not read.
  std::vector<std::string> addresses;
};

// What the caBundle comparison found (kube/hygiene.h: webhook_ca_mismatch,
// webhook_ca_bundle_missing).
enum class CaBundleState { not_checked, ok, mismatch, missing };

// One endpoint of the webhook's Service, seen from each vantage.
struct WebhookPodFacts {
  std::string pod;         // the pod's name; empty when the EndpointSlice names none
  std::string address;     // its IP
  std::uint16_t port = 0;  // the pod port behind the Service port (istiod: 15017)
  bool ready = true;       // per the EndpointSlice
  // The API server's proxy dial of this pod (probe_via_apiserver through the
  // pod proxy); empty when it was not made.
  std::optional<ProbeResult> apiserver_dial;
  // This agent's own probe of address:port, from the pod network; empty when
  // it was not made.
  std::optional<ProbeResult> direct;
};

struct WebhookFacts {
  std::string webhook;        // the webhook entry: "namespace.sidecar-injector.istio.io"
  std::string configuration;  // its configuration's name
  WebhookKind kind = WebhookKind::mutating;
  ServiceName service;  // the Service it calls
  std::uint16_t service_port = 443;
  std::string failure_policy = "Fail";

  // The Service is known not to exist (a webhook_stale_revision finding).
  bool service_missing = false;

  // The API server's real call (the admission probe of this webhook); empty
  // when none was made.
  std::optional<ProbeResult> admission;

  // true: the Service's EndpointSlices were read and `pods` holds every
  // endpoint. false: what the endpoints are is not known (an empty `pods`
  // then says nothing).
  bool endpoints_read = false;
  std::vector<WebhookPodFacts> pods;

  CaBundleState ca_bundle = CaBundleState::not_checked;
  std::string ca_bundle_evidence;  // what the comparison saw (the finding's message)

  ControlPlaneContext control_plane;

  // The API server's real calls to this webhook that failed in the last
  // hour, as FailedCreate events recorded them, newest first. Without an
  // admission call of this round they still are real calls: an ok is then
  // not inferred but refuted.
  std::vector<ObservedFailure> observed;
};

// The hops, in the order a call takes them (stable: JSON and label values).
inline constexpr std::string_view kHopService = "service";
inline constexpr std::string_view kHopEndpoints = "endpoints";
inline constexpr std::string_view kHopControlPlaneNetwork = "control_plane_network";
// The pod does not answer this agent either: not the control plane's network.
inline constexpr std::string_view kHopPod = "pod";
inline constexpr std::string_view kHopCaBundle = "ca_bundle";
inline constexpr std::string_view kHopWebhookCall = "webhook_call";
// Nothing broken, and the real call passed.
inline constexpr std::string_view kHopNone = "none";
// Nothing broken was seen, but no admission call was made: not confirmed.
inline constexpr std::string_view kHopInferred = "inferred";

struct WebhookVerdict {
  std::string webhook;
  std::string configuration;
  // ok, or the catalogue code of the broken hop as the API server meets it.
  Diagnosis diagnosis = Diagnosis::ok;
  std::string hop;      // one of the kHop* names
  std::string message;  // one sentence: the hop, the pod IP:port, what each vantage saw
  std::string remedy;   // empty for hop "none"
  // The platform the remedy was written for (unknown: the generic remedy).
  Platform platform = Platform::unknown;
  // What could not be read for it (the control plane's context: the node,
  // the API server's addresses), with the RBAC it needs; the verdict stands.
  std::vector<std::string> notes;

  // The verdict rests on the API server's real call: an ok that is not
  // confirmed is hop "inferred".
  bool confirmed() const { return hop != kHopInferred; }
};

// "ok" only for an ok the real call confirmed; "unconfirmed" for an inferred
// ok; otherwise the diagnosis code. The value outputs show (the metric's
// `diagnosis` label, the table, JSON), so none prints an unconfirmed ok as ok.
inline constexpr std::string_view kUnconfirmedVerdict = "unconfirmed";
std::string_view verdict_code(const WebhookVerdict& verdict);

// The first broken hop of `facts`, or ok (confirmed or inferred). Observed
// failures are added to the message; without an admission call they are the
// verdict (hop webhook_call, their diagnosis).
WebhookVerdict judge_webhook(const WebhookFacts& facts);

// How to let the control plane reach the webhook's pods on TCP `port`, on
// `platform`, naming the control plane's `addresses` where known.
std::string firewall_remedy(Platform platform, std::uint16_t port,
                            std::span<const std::string> addresses);

// Sets service_missing and the caBundle state of `facts` from the hygiene
// findings about its webhook (webhook_stale_revision, webhook_ca_mismatch,
// webhook_ca_bundle_missing). `ca_checked`: the webhook_ca_mismatch check ran
// on this webhook's caBundle, so no finding means its caBundle verified.
void apply_hygiene_findings(WebhookFacts& facts, std::span<const Finding> findings,
                            bool ca_checked);

}  // namespace meshprobe::kube
