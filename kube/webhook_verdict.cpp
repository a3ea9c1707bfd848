#include "kube/webhook_verdict.h"

#include <algorithm>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "common/text.h"

namespace meshprobe::kube {
namespace {

std::string address_port(std::string_view address, std::uint16_t port) {
  std::string out;
  if (address.find(':') != std::string_view::npos) {
    out = "[" + std::string(address) + "]";
  } else {
    out = std::string(address);
  }
  return out + ":" + std::to_string(port);
}

std::string pod_text(const WebhookPodFacts& pod) {
  std::string out = "istiod pod ";
  if (!pod.pod.empty()) out += pod.pod + " ";
  return out + address_port(pod.address, pod.port);
}

// What one vantage saw: "tcp_timeout (dial tcp 10.8.0.12:15017: i/o timeout)".
std::string seen(const ProbeResult& result) {
  if (result.success) return "passed";
  std::string out(code(result.diagnosis));
  if (!result.message.empty()) out += " (" + result.message + ")";
  return out;
}

// The connection never opened (or, for webhook_timeout, may not have): what a
// firewall between the control plane and the nodes makes of a call.
bool fails_at_connect(const ProbeResult& result) {
  if (result.success) return false;
  return kBlocked.contains(result.diagnosis) || result.diagnosis == Diagnosis::webhook_timeout;
}

bool says_no_endpoints(const ProbeResult& result) {
  return result.diagnosis == Diagnosis::tcp_refused &&
         result.message.find("no endpoints available") != std::string::npos;
}

std::string service_text(const WebhookFacts& facts) {
  return facts.service.host() + ":" + std::to_string(facts.service_port);
}

std::string addresses_text(std::span<const std::string> addresses,
                           std::string_view separator = ", ") {
  std::string out;
  for (const std::string& address : addresses) {
    if (!out.empty()) out += separator;
    out += address;
  }
  return out;
}

WebhookVerdict verdict_of(const WebhookFacts& facts, Diagnosis diagnosis, std::string_view hop,
                          std::string message, std::string remedy) {
  WebhookVerdict verdict;
  verdict.webhook = facts.webhook;
  verdict.configuration = facts.configuration;
  verdict.diagnosis = diagnosis;
  verdict.hop = std::string(hop);
  verdict.message = std::move(message);
  verdict.remedy = std::move(remedy);
  verdict.platform = facts.control_plane.platform;
  return verdict;
}

std::string webhook_text(const WebhookFacts& facts) {
  return "webhook " + in_quotes(facts.webhook) + " (" + facts.configuration + ") calls " +
         service_text(facts);
}

// The pods the API server would call: the ready ones, when the slices were
// read; otherwise every pod the caller knows of.
std::vector<const WebhookPodFacts*> callable_pods(const WebhookFacts& facts) {
  std::vector<const WebhookPodFacts*> out;
  for (const WebhookPodFacts& pod : facts.pods) {
    if (!facts.endpoints_read || pod.ready) out.push_back(&pod);
  }
  return out;
}

// What the API server saw of one pod: its proxy dial of that pod when made,
// else the real call (which went to one of the Service's pods).
struct ApiserverView {
  const ProbeResult* dial = nullptr;
  const ProbeResult* call = nullptr;

  bool fails_at_connect() const {
    if (dial != nullptr) return kube::fails_at_connect(*dial);
    return call != nullptr && kube::fails_at_connect(*call);
  }
  Diagnosis diagnosis() const { return dial != nullptr ? dial->diagnosis : call->diagnosis; }
  std::string text() const {
    std::string out;
    if (call != nullptr) out += "its call: " + seen(*call);
    if (dial != nullptr) {
      if (!out.empty()) out += "; ";
      out += "its proxy dial: " + seen(*dial);
    }
    return out;
  }
};

ApiserverView apiserver_view(const WebhookFacts& facts, const WebhookPodFacts& pod) {
  ApiserverView view;
  if (pod.apiserver_dial) view.dial = &*pod.apiserver_dial;
  if (facts.admission) view.call = &*facts.admission;
  return view;
}

std::string pod_remedy(const WebhookFacts& facts, const WebhookPodFacts& pod) {
  const std::string& ns = facts.service.ns;
  std::string out = "make istiod answer on " + address_port(pod.address, pod.port) + ": check ";
  if (pod.pod.empty()) {
    out += "that the pod at " + pod.address + " is running and listening (kubectl -n " + ns +
           " get pods -o wide, and its logs)";
  } else {
    out += "that " + pod.pod + " is running and listening (kubectl -n " + ns + " get pod " +
           pod.pod + " -o wide; kubectl -n " + ns + " logs " + pod.pod + ")";
  }
  return out + ", and that no NetworkPolicy in " + ns + " denies TCP " + std::to_string(pod.port) +
         " to it";
}

// The control-plane network hop: a pod the API server's dial (or call) does
// not reach. Whether the control plane's network is to blame is told by this
// agent's direct probe of the same IP:port from the pod network.
std::optional<WebhookVerdict> judge_network(const WebhookFacts& facts) {
  const std::vector<const WebhookPodFacts*> callable = callable_pods(facts);
  // A real call that passed went through one of the pods: with only one to
  // call, it reached that pod, and a proxy dial that did not took a route of
  // its own (a managed control plane tunnels the proxy unlike webhook calls).
  const bool call_reached_the_only_pod =
      facts.admission && facts.admission->success && callable.size() == 1;
  std::vector<const WebhookPodFacts*> cut_off;
  if (!call_reached_the_only_pod) {
    for (const WebhookPodFacts* pod : callable) {
      if (apiserver_view(facts, *pod).fails_at_connect()) cut_off.push_back(pod);
    }
  }
  if (cut_off.empty()) return std::nullopt;

  // A pod this agent reaches is the firewall's proof: name it first. Then one
  // this agent cannot reach either (istiod itself); then one it did not try.
  const auto reached = [](const WebhookPodFacts* pod) {
    return pod->direct && pod->direct->success;
  };
  const auto unreached = [](const WebhookPodFacts* pod) {
    return pod->direct && !pod->direct->success;
  };
  const WebhookPodFacts* named = nullptr;
  if (auto it = std::ranges::find_if(cut_off, reached); it != cut_off.end()) {
    named = *it;
  } else if (auto it2 = std::ranges::find_if(cut_off, unreached); it2 != cut_off.end()) {
    named = *it2;
  } else {
    named = cut_off.front();
  }
  const ApiserverView view = apiserver_view(facts, *named);
  std::string others;
  if (cut_off.size() > 1) {
    others = " (" + std::to_string(cut_off.size() - 1) + " more of its pods likewise)";
  }

  if (reached(named)) {
    std::string message = webhook_text(facts) + ": the API server cannot reach " +
                          pod_text(*named) + others + " (" + view.text() +
                          ") while this agent in the pod network reaches it: a firewall between "
                          "the control plane and the nodes";
    if (!facts.control_plane.addresses.empty()) {
      message += " (the control plane: " + addresses_text(facts.control_plane.addresses) + ")";
    }
    message += " blocks TCP " + std::to_string(named->port);
    return verdict_of(
        facts, view.diagnosis(), kHopControlPlaneNetwork, std::move(message),
        firewall_remedy(facts.control_plane.platform, named->port, facts.control_plane.addresses));
  }
  if (unreached(named)) {
    return verdict_of(facts, view.diagnosis(), kHopPod,
                      webhook_text(facts) + ": " + pod_text(*named) + others +
                          " answers neither the API server (" + view.text() +
                          ") nor this agent in the pod network (" + seen(*named->direct) +
                          "): istiod is down or a NetworkPolicy blocks it, not the control "
                          "plane's network",
                      pod_remedy(facts, *named));
  }
  return verdict_of(facts, view.diagnosis(), kHopControlPlaneNetwork,
                    webhook_text(facts) + ": the API server cannot reach " + pod_text(*named) +
                        others + " (" + view.text() +
                        "); this agent did not probe it directly, so a firewall between the "
                        "control plane and the nodes and a pod that is down cannot be told apart",
                    "probe " + address_port(named->address, named->port) +
                        " from the pod network: if it answers there, " +
                        firewall_remedy(facts.control_plane.platform, named->port,
                                        facts.control_plane.addresses) +
                        "; if not, " + pod_remedy(facts, *named));
}

std::optional<WebhookVerdict> judge_ca_bundle(const WebhookFacts& facts) {
  const bool call_rejects_chain =
      facts.admission && !facts.admission->success && shows_ca_mismatch(facts.admission->diagnosis);
  if (facts.ca_bundle != CaBundleState::mismatch && facts.ca_bundle != CaBundleState::missing &&
      !call_rejects_chain) {
    return std::nullopt;
  }
  std::string message = webhook_text(facts) + ": ";
  std::string_view finding = kCaMismatch;
  switch (facts.ca_bundle) {
    case CaBundleState::missing:
      message += "its caBundle is empty, so the API server cannot verify istiod";
      finding = kCaBundleMissing;
      break;
    case CaBundleState::mismatch:
      message += "its caBundle does not verify the certificate istiod serves";
      break;
    case CaBundleState::ok:
      message +=
          "the API server does not trust istiod's certificate, though the caBundle "
          "verified it when this agent compared them (istiod's pods may serve different "
          "chains)";
      break;
    case CaBundleState::not_checked:
      message +=
          "the API server does not trust istiod's certificate (the caBundle was not "
          "compared by this agent)";
      break;
  }
  if (!facts.ca_bundle_evidence.empty()) message += " (" + facts.ca_bundle_evidence + ")";
  if (call_rejects_chain) {
    message += "; the API server's call confirms it: " + facts.admission->message;
  } else if (facts.admission && facts.admission->success) {
    message += "; the API server's call passed nonetheless";
  }
  return verdict_of(facts, Diagnosis::tls_unknown_authority, kHopCaBundle, std::move(message),
                    std::string(hygiene_remedy(finding)));
}

// What the API server's proxy dials of ready pods saw that is not a
// connection failure (a TLS or HTTP error past the dial), when no real call
// was made to say more.
const WebhookPodFacts* dial_failing_past_connect(const WebhookFacts& facts) {
  for (const WebhookPodFacts* pod : callable_pods(facts)) {
    if (pod->apiserver_dial && !pod->apiserver_dial->success) return pod;
  }
  return nullptr;
}

const WebhookPodFacts* dial_passed(const WebhookFacts& facts) {
  for (const WebhookPodFacts* pod : callable_pods(facts)) {
    if (pod->apiserver_dial && pod->apiserver_dial->success) return pod;
  }
  return nullptr;
}

WebhookVerdict judge_ok(const WebhookFacts& facts) {
  if (facts.admission) {
    std::string message =
        webhook_text(facts) + ": the API server's call passed (" + facts.admission->message + ")";
    for (const WebhookPodFacts* pod : callable_pods(facts)) {
      if (pod->apiserver_dial && !pod->apiserver_dial->success) {
        message += "; its proxy dial of " + pod_text(*pod) + " did not (" +
                   seen(*pod->apiserver_dial) +
                   "): the proxy's own route, which a managed control plane may tunnel unlike "
                   "webhook calls";
        break;
      }
    }
    return verdict_of(facts, Diagnosis::ok, kHopNone, std::move(message), "");
  }
  // No real call: nothing here proves the API server's call works, only that
  // nothing seen is broken. Say so in the verdict itself.
  std::string message = webhook_text(facts) + ": not confirmed, no admission call was made; ";
  if (const WebhookPodFacts* pod = dial_passed(facts)) {
    message += "inferred from the API server's proxy dial of " + pod_text(*pod) +
               ", which passed (the proxy does not verify the caBundle, and a managed control "
               "plane may route it unlike webhook calls)";
  } else {
    message += "nothing showed the API server reaching istiod (no proxy dial passed)";
  }
  return verdict_of(facts, Diagnosis::ok, kHopInferred, std::move(message),
                    "configure an admission target (admission: " +
                        std::string(facts.kind == WebhookKind::mutating ? "inject" : "validate") +
                        ") so the API server's own call is made");
}

}  // namespace

std::string_view platform_name(Platform platform) {
  switch (platform) {
    case Platform::gke: return "gke";
    case Platform::eks: return "eks";
    case Platform::aks: return "aks";
    case Platform::unknown: break;
  }
  return "unknown";
}

Platform platform_from_provider_id(std::string_view provider_id) {
  if (provider_id.starts_with("gce://")) return Platform::gke;
  if (provider_id.starts_with("aws://")) return Platform::eks;
  if (provider_id.starts_with("azure://")) return Platform::aks;
  return Platform::unknown;
}

std::string_view verdict_code(const WebhookVerdict& verdict) {
  if (verdict.diagnosis == Diagnosis::ok && !verdict.confirmed()) return kUnconfirmedVerdict;
  return code(verdict.diagnosis);
}

std::string firewall_remedy(Platform platform, std::uint16_t port,
                            std::span<const std::string> addresses) {
  const std::string tcp_port = std::to_string(port);
  const std::string known = addresses_text(addresses);
  switch (platform) {
    case Platform::gke: {
      // The private cluster's master-to-node rule (gke-CLUSTER-HASH-master)
      // opens only 443 and 10250: the webhook port has to be added. Its
      // source range is the master-ipv4-cidr, which the API server's address
      // sits in but does not span, so the range is read from the rule.
      std::string out =
          "GKE private cluster: add tcp:" + tcp_port +
          " to the control plane's firewall rule gke-CLUSTER_NAME-...-master, or create a rule "
          "beside it. Find its network, source range (the master-ipv4-cidr) and target tags with "
          "`gcloud compute firewall-rules list --filter 'name~gke-CLUSTER_NAME-[0-9a-z]*-master'`, "
          "then `gcloud compute firewall-rules create allow-api-server-to-webhook-CLUSTER_NAME "
          "--network NETWORK --action ALLOW --direction INGRESS --source-ranges "
          "CONTROL_PLANE_RANGE "
          "--rules tcp:" +
          tcp_port + " --target-tags TARGET`";
      if (!known.empty()) out += " (the API server answers from " + known + ", inside that range)";
      return out;
    }
    case Platform::eks:
      return "EKS: add an inbound rule to the node security group allowing TCP " + tcp_port +
             " from the cluster security group: `aws ec2 authorize-security-group-ingress "
             "--group-id NODE_SECURITY_GROUP_ID --protocol tcp --port " +
             tcp_port +
             " --source-group CLUSTER_SECURITY_GROUP_ID` (the cluster security group: `aws eks "
             "describe-cluster --name CLUSTER_NAME --query "
             "cluster.resourcesVpcConfig.clusterSecurityGroupId`)" +
             (known.empty() ? std::string() : "; the API server answers from " + known);
    case Platform::aks:
      return "AKS: allow TCP " + tcp_port +
             " from the control plane to the nodes in the network security group of the node "
             "subnet: `az network nsg rule create --resource-group NODE_RESOURCE_GROUP "
             "--nsg-name NSG_NAME --name allow-api-server-to-webhook --priority 1000 --direction "
             "Inbound --access Allow --protocol Tcp --source-address-prefixes " +
             (known.empty() ? std::string("CONTROL_PLANE_ADDRESSES")
                            : addresses_text(addresses, " ")) +
             " --destination-port-ranges " + tcp_port +
             "` (where the API server's calls come through konnectivity-agent inside the cluster, "
             "a "
             "NetworkPolicy admitting them instead)";
    case Platform::unknown: break;
  }
  return "allow TCP " + tcp_port + " from the control plane" +
         (known.empty() ? std::string(" (its addresses: the default/kubernetes EndpointSlice)")
                        : " addresses " + known) +
         " to the nodes, in the firewall or security group between them";
}

namespace {

WebhookVerdict judge_hops(const WebhookFacts& facts) {
  // The hops in the order the API server's call takes them, first broken
  // wins: each later hop is only reached through the earlier ones, so what
  // it shows behind a broken one is a consequence, not the cause. A Service
  // that does not exist is never dialled; without a ready endpoint there is
  // nothing to dial; a connection that does not open never gets to TLS, so
  // the caBundle cannot be the trouble yet; and istiod's answer is only read
  // once TLS verified.
  const ProbeResult* call = facts.admission ? &*facts.admission : nullptr;

  // 1. The Service.
  if (facts.service_missing || (call != nullptr && call->diagnosis == Diagnosis::dns_not_found)) {
    std::string message = webhook_text(facts) + ": the Service " + facts.service.name +
                          " does not exist in " + facts.service.ns;
    if (call != nullptr && call->diagnosis == Diagnosis::dns_not_found) {
      message += " (the API server's call: " + call->message + ")";
    } else {
      message += ", so the API server has nothing to call";
    }
    message += "; left over from an uninstalled revision, or istio is not installed";
    return verdict_of(facts, Diagnosis::dns_not_found, kHopService, std::move(message),
                      std::string(hygiene_remedy(kStaleRevision)));
  }

  // 2. Its ready endpoints.
  const bool none_ready =
      facts.endpoints_read && std::ranges::none_of(facts.pods, &WebhookPodFacts::ready);
  if (none_ready || (call != nullptr && says_no_endpoints(*call))) {
    std::string message = webhook_text(facts) + ": ";
    if (none_ready) {
      message += facts.pods.empty()
                     ? "its Service has no endpoints"
                     : "none of its " + std::to_string(facts.pods.size()) + " istiod pods is ready";
      message += ", so the API server has no pod to call";
    } else {
      message += "the API server finds no endpoint to call";
    }
    if (call != nullptr && !call->success)
      message += " (the API server's call: " + seen(*call) + ")";
    return verdict_of(facts, Diagnosis::tcp_refused, kHopEndpoints, std::move(message),
                      "make istiod ready: kubectl -n " + facts.service.ns +
                          " get pods -l app=istiod, and its logs and readiness probe");
  }

  // 3. The network between the control plane and the pods.
  if (auto verdict = judge_network(facts)) return *verdict;

  // 4. TLS: the caBundle the API server verifies istiod with.
  if (auto verdict = judge_ca_bundle(facts)) return *verdict;

  // 5. The call itself: istiod's answer, or what the API server made of it.
  if (call != nullptr && !call->success) {
    std::string message = webhook_text(facts) + ": the API server's call " +
                          (call->failed_phase == Phase::tls ? "failed TLS: " : "failed: ") +
                          seen(*call);
    if (const WebhookPodFacts* pod = dial_passed(facts)) {
      message += "; its proxy dial of " + pod_text(*pod) + " passed";
    }
    if (facts.failure_policy == "Ignore") {
      message += " (failurePolicy Ignore: the API server admits without it)";
    }
    return verdict_of(facts, call->diagnosis, kHopWebhookCall, std::move(message),
                      std::string(remedy(call->diagnosis)));
  }
  if (call == nullptr) {
    if (const WebhookPodFacts* pod = dial_failing_past_connect(facts)) {
      const ProbeResult& dial = *pod->apiserver_dial;
      return verdict_of(facts, dial.diagnosis, kHopWebhookCall,
                        webhook_text(facts) + ": the API server reaches " + pod_text(*pod) +
                            " but its proxy request fails: " + seen(dial),
                        std::string(remedy(dial.diagnosis)));
    }
  }

  // 6. Nothing broken.
  return judge_ok(facts);
}

}  // namespace

WebhookVerdict judge_webhook(const WebhookFacts& facts) {
  WebhookVerdict verdict = judge_hops(facts);
  if (facts.observed.empty()) return verdict;
  const std::string observed = observed_failures_text(facts.observed);
  if (verdict.diagnosis != Diagnosis::ok) {
    verdict.message += "; observed: " + observed;
    return verdict;
  }
  if (verdict.confirmed()) {
    verdict.message += "; yet " + observed +
                       " (the call passes now: the failures were earlier, or through another "
                       "istiod pod)";
    return verdict;
  }
  // Nothing here made a call, but the controllers' creates did: their
  // failures are the API server's real calls failing, not an inference.
  const ObservedFailure& last = facts.observed.front();
  return verdict_of(facts, last.diagnosis, kHopWebhookCall,
                    webhook_text(facts) + ": the API server's real calls fail: " + observed,
                    std::string(remedy(last.diagnosis)));
}

void apply_hygiene_findings(WebhookFacts& facts, std::span<const Finding> findings,
                            bool ca_checked) {
  const std::string object = std::string(kind_name(facts.kind)) + "/" + facts.configuration;
  if (ca_checked && facts.ca_bundle == CaBundleState::not_checked) {
    facts.ca_bundle = CaBundleState::ok;
  }
  for (const Finding& finding : findings) {
    if (finding.object != object || finding.webhook != facts.webhook) continue;
    if (finding.code == kStaleRevision) {
      facts.service_missing = true;
    } else if (finding.code == kCaBundleMissing) {
      facts.ca_bundle = CaBundleState::missing;
      facts.ca_bundle_evidence = finding.message;
    } else if (finding.code == kCaMismatch) {
      facts.ca_bundle = CaBundleState::mismatch;
      facts.ca_bundle_evidence = finding.message;
    }
  }
}

}  // namespace meshprobe::kube
