// One verdict per webhook: the first broken hop along the API server's call,
// named with the pod it failed on, what each vantage saw, and the remedy for
// the platform. Every fact is what the probes and hygiene checks report.
#include "kube/webhook_verdict.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace meshprobe::kube {
namespace {

using testing::AllOf;
using testing::HasSubstr;
using testing::Not;

ProbeResult passed(std::string message = "HTTP 200") {
  ProbeResult result;
  result.success = true;
  result.diagnosis = Diagnosis::ok;
  result.message = std::move(message);
  return result;
}

ProbeResult failed(Diagnosis diagnosis, std::string message) {
  ProbeResult result;
  result.success = false;
  result.diagnosis = diagnosis;
  result.message = std::move(message);
  return result;
}

ProbeResult dial_timeout() {
  return failed(Diagnosis::tcp_timeout,
                "through the API server: dial tcp 10.8.0.12:15017: i/o timeout");
}

WebhookPodFacts pod(std::string name, std::string address) {
  WebhookPodFacts facts;
  facts.pod = std::move(name);
  facts.address = std::move(address);
  facts.port = 15017;
  facts.ready = true;
  return facts;
}

// The sidecar injector of a healthy install, every vantage passing and the
// real call made.
WebhookFacts healthy_injector() {
  WebhookFacts facts;
  facts.webhook = "namespace.sidecar-injector.istio.io";
  facts.configuration = "istio-sidecar-injector";
  facts.kind = WebhookKind::mutating;
  facts.service = ServiceName{"istiod", "istio-system"};
  facts.service_port = 443;
  facts.admission = passed("the pod came back with istio-proxy");
  facts.endpoints_read = true;
  WebhookPodFacts istiod = pod("istiod-5f8d7c9b4-abcde", "10.8.0.12");
  istiod.apiserver_dial = passed();
  istiod.direct = passed();
  facts.pods.push_back(std::move(istiod));
  facts.ca_bundle = CaBundleState::ok;
  facts.control_plane.addresses = {"172.16.0.2"};
  return facts;
}

// The API server's dial of the pod times out, and so does its call.
WebhookFacts firewalled_injector() {
  WebhookFacts facts = healthy_injector();
  facts.admission = failed(
      Diagnosis::tcp_timeout,
      "Internal error occurred: failed calling webhook \"namespace.sidecar-injector.istio.io\": "
      "failed to call webhook: Post \"https://istiod.istio-system.svc:443/inject\": dial tcp "
      "10.8.0.12:15017: i/o timeout");
  facts.pods[0].apiserver_dial = dial_timeout();
  return facts;
}

// --- platforms ---------------------------------------------------------------

TEST(PlatformFromProviderId, GceIsGke) {
  EXPECT_EQ(platform_from_provider_id("gce://my-project/europe-west1-b/gke-pool-1-abcd"),
            Platform::gke);
}

TEST(PlatformFromProviderId, AwsIsEks) {
  EXPECT_EQ(platform_from_provider_id("aws:///eu-west-1a/i-0123456789abcdef0"), Platform::eks);
}

TEST(PlatformFromProviderId, AzureIsAks) {
  EXPECT_EQ(platform_from_provider_id(
                "azure:///subscriptions/SUB/resourceGroups/MC_rg/providers/"
                "Microsoft.Compute/virtualMachineScaleSets/aks-nodepool1-vmss/virtualMachines/0"),
            Platform::aks);
}

TEST(PlatformFromProviderId, KindAndEmptyAreUnknown) {
  EXPECT_EQ(platform_from_provider_id("kind://docker/kind/kind-control-plane"), Platform::unknown);
  EXPECT_EQ(platform_from_provider_id(""), Platform::unknown);
}

TEST(PlatformName, NamesEachPlatform) {
  EXPECT_EQ(platform_name(Platform::gke), "gke");
  EXPECT_EQ(platform_name(Platform::eks), "eks");
  EXPECT_EQ(platform_name(Platform::aks), "aks");
  EXPECT_EQ(platform_name(Platform::unknown), "unknown");
}

// --- remedies ----------------------------------------------------------------

TEST(FirewallRemedy, GkeCreatesTheMasterToWebhookRuleWithThePort) {
  const std::vector<std::string> addresses = {"172.16.0.2"};
  const std::string remedy = firewall_remedy(Platform::gke, 15017, addresses);
  EXPECT_THAT(remedy, HasSubstr("gcloud compute firewall-rules create "
                                "allow-api-server-to-webhook-CLUSTER_NAME"));
  EXPECT_THAT(remedy, HasSubstr("--rules tcp:15017"));
  EXPECT_THAT(remedy, HasSubstr("--source-ranges CONTROL_PLANE_RANGE"));
  EXPECT_THAT(remedy, HasSubstr("gke-CLUSTER_NAME-[0-9a-z]*-master"));
  EXPECT_THAT(remedy, HasSubstr("172.16.0.2"));
}

TEST(FirewallRemedy, EksOpensTheNodeSecurityGroupToTheClusterSecurityGroup) {
  const std::string remedy = firewall_remedy(Platform::eks, 15017, {});
  EXPECT_THAT(remedy, HasSubstr("node security group"));
  EXPECT_THAT(remedy, HasSubstr("aws ec2 authorize-security-group-ingress --group-id "
                                "NODE_SECURITY_GROUP_ID --protocol tcp --port 15017 "
                                "--source-group CLUSTER_SECURITY_GROUP_ID"));
  EXPECT_THAT(remedy, HasSubstr("clusterSecurityGroupId"));
}

TEST(FirewallRemedy, AksAddsAnNsgRuleFromTheControlPlaneAddresses) {
  const std::vector<std::string> addresses = {"20.50.1.7", "20.50.1.8"};
  const std::string remedy = firewall_remedy(Platform::aks, 15017, addresses);
  EXPECT_THAT(remedy, HasSubstr("az network nsg rule create"));
  EXPECT_THAT(remedy, HasSubstr("--source-address-prefixes 20.50.1.7 20.50.1.8"));
  EXPECT_THAT(remedy, HasSubstr("--destination-port-ranges 15017"));
}

TEST(FirewallRemedy, UnknownPlatformNamesThePortAndTheControlPlaneAddresses) {
  const std::vector<std::string> addresses = {"192.168.10.2", "192.168.10.3"};
  EXPECT_EQ(firewall_remedy(Platform::unknown, 15017, addresses),
            "allow TCP 15017 from the control plane addresses 192.168.10.2, 192.168.10.3 to the "
            "nodes, in the firewall or security group between them");
}

TEST(FirewallRemedy, UnknownAddressesSayWhereToFindThem) {
  EXPECT_THAT(firewall_remedy(Platform::unknown, 8443, {}),
              AllOf(HasSubstr("allow TCP 8443"), HasSubstr("default/kubernetes EndpointSlice")));
}

// --- the hops ----------------------------------------------------------------

TEST(JudgeWebhook, AllPassingWithTheRealCallIsAConfirmedOk) {
  const WebhookVerdict verdict = judge_webhook(healthy_injector());
  EXPECT_EQ(verdict.webhook, "namespace.sidecar-injector.istio.io");
  EXPECT_EQ(verdict.configuration, "istio-sidecar-injector");
  EXPECT_EQ(verdict.diagnosis, Diagnosis::ok);
  EXPECT_EQ(verdict.hop, kHopNone);
  EXPECT_TRUE(verdict.confirmed());
  EXPECT_EQ(verdict_code(verdict), "ok");
  EXPECT_THAT(verdict.message, HasSubstr("the API server's call passed"));
}

TEST(JudgeWebhook, WithoutTheRealCallOkIsInferredAndNeverShownAsOk) {
  WebhookFacts facts = healthy_injector();
  facts.admission.reset();
  const WebhookVerdict verdict = judge_webhook(facts);
  EXPECT_EQ(verdict.hop, kHopInferred);
  EXPECT_FALSE(verdict.confirmed());
  EXPECT_EQ(verdict_code(verdict), "unconfirmed");
  EXPECT_THAT(verdict.message, HasSubstr("not confirmed, no admission call was made"));
  EXPECT_THAT(verdict.message, HasSubstr("inferred from the API server's proxy dial of istiod pod "
                                         "istiod-5f8d7c9b4-abcde 10.8.0.12:15017"));
  EXPECT_THAT(verdict.remedy, HasSubstr("admission: inject"));
}

TEST(JudgeWebhook, WithNothingObservedTheInferredOkSaysNothingShowedTheApiServerReachingIstiod) {
  WebhookFacts facts = healthy_injector();
  facts.admission.reset();
  facts.pods[0].apiserver_dial.reset();
  const WebhookVerdict verdict = judge_webhook(facts);
  EXPECT_EQ(verdict.hop, kHopInferred);
  EXPECT_EQ(verdict_code(verdict), "unconfirmed");
  EXPECT_THAT(verdict.message, HasSubstr("nothing showed the API server reaching istiod"));
}

TEST(JudgeWebhook, AStaleRevisionIsTheServiceHop) {
  WebhookFacts facts = healthy_injector();
  facts.service = ServiceName{"istiod-1-19", "istio-system"};
  facts.service_missing = true;
  facts.admission.reset();
  facts.pods.clear();
  const WebhookVerdict verdict = judge_webhook(facts);
  EXPECT_EQ(verdict.diagnosis, Diagnosis::dns_not_found);
  EXPECT_EQ(verdict.hop, kHopService);
  EXPECT_THAT(verdict.message, HasSubstr("the Service istiod-1-19 does not exist in istio-system"));
  EXPECT_EQ(verdict.remedy, hygiene_remedy(kStaleRevision));
}

TEST(JudgeWebhook, TheApiServerNotFindingTheServiceIsTheServiceHop) {
  WebhookFacts facts = healthy_injector();
  facts.admission = failed(Diagnosis::dns_not_found, "service \"istiod\" not found");
  const WebhookVerdict verdict = judge_webhook(facts);
  EXPECT_EQ(verdict.hop, kHopService);
  EXPECT_THAT(verdict.message, HasSubstr("service \"istiod\" not found"));
}

TEST(JudgeWebhook, NoReadyEndpointIsTheEndpointsHop) {
  WebhookFacts facts = healthy_injector();
  facts.pods[0].ready = false;
  const WebhookVerdict verdict = judge_webhook(facts);
  EXPECT_EQ(verdict.diagnosis, Diagnosis::tcp_refused);
  EXPECT_EQ(verdict.hop, kHopEndpoints);
  EXPECT_THAT(verdict.message, HasSubstr("none of its 1 istiod pods is ready"));
}

TEST(JudgeWebhook, AServiceWithoutEndpointsIsTheEndpointsHop) {
  WebhookFacts facts = healthy_injector();
  facts.pods.clear();
  const WebhookVerdict verdict = judge_webhook(facts);
  EXPECT_EQ(verdict.hop, kHopEndpoints);
  EXPECT_THAT(verdict.message, HasSubstr("its Service has no endpoints"));
}

TEST(JudgeWebhook, UnreadEndpointsAreNotTakenForNone) {
  WebhookFacts facts = healthy_injector();
  facts.endpoints_read = false;
  facts.pods.clear();
  const WebhookVerdict verdict = judge_webhook(facts);
  EXPECT_EQ(verdict.hop, kHopNone);
}

TEST(JudgeWebhook, TheApiServerSayingNoEndpointsIsTheEndpointsHop) {
  WebhookFacts facts = healthy_injector();
  facts.endpoints_read = false;
  facts.pods.clear();
  facts.admission = failed(Diagnosis::tcp_refused,
                           "failed calling webhook: no endpoints available for service \"istiod\"");
  const WebhookVerdict verdict = judge_webhook(facts);
  EXPECT_EQ(verdict.hop, kHopEndpoints);
  EXPECT_EQ(verdict.diagnosis, Diagnosis::tcp_refused);
}

TEST(JudgeWebhook, ApiServerTimingOutWhileThisAgentReachesThePodIsAControlPlaneFirewall) {
  const WebhookVerdict verdict = judge_webhook(firewalled_injector());
  EXPECT_EQ(verdict.diagnosis, Diagnosis::tcp_timeout);
  EXPECT_EQ(verdict.hop, kHopControlPlaneNetwork);
  EXPECT_THAT(verdict.message,
              HasSubstr("the API server cannot reach istiod pod istiod-5f8d7c9b4-abcde "
                        "10.8.0.12:15017"));
  EXPECT_THAT(verdict.message, HasSubstr("its call: tcp_timeout"));
  EXPECT_THAT(verdict.message, HasSubstr("its proxy dial: tcp_timeout"));
  EXPECT_THAT(verdict.message, HasSubstr("while this agent in the pod network reaches it"));
  EXPECT_THAT(verdict.message, HasSubstr("a firewall between the control plane and the nodes"));
  EXPECT_THAT(verdict.message, HasSubstr("172.16.0.2"));
  const std::vector<std::string> control_plane = {"172.16.0.2"};
  EXPECT_EQ(verdict.remedy, firewall_remedy(Platform::unknown, 15017, control_plane));
}

TEST(JudgeWebhook, TheFirewallRemedyIsThePlatformsRuleForThePodPort) {
  WebhookFacts facts = firewalled_injector();
  facts.control_plane.platform = Platform::gke;
  facts.pods[0].port = 15018;
  const WebhookVerdict verdict = judge_webhook(facts);
  EXPECT_EQ(verdict.hop, kHopControlPlaneNetwork);
  EXPECT_THAT(verdict.remedy, AllOf(HasSubstr("gcloud compute firewall-rules create"),
                                    HasSubstr("--rules tcp:15018")));
}

TEST(JudgeWebhook, AProxyDialTimeoutAloneIsEnoughToNameTheFirewall) {
  WebhookFacts facts = healthy_injector();
  facts.admission.reset();
  facts.pods[0].apiserver_dial = dial_timeout();
  const WebhookVerdict verdict = judge_webhook(facts);
  EXPECT_EQ(verdict.hop, kHopControlPlaneNetwork);
  EXPECT_THAT(verdict.message, Not(HasSubstr("its call:")));
}

TEST(JudgeWebhook, TheCallTimingOutWithoutAProxyDialIsReadForEachReadyPod) {
  WebhookFacts facts = firewalled_injector();
  facts.pods[0].apiserver_dial.reset();
  const WebhookVerdict verdict = judge_webhook(facts);
  EXPECT_EQ(verdict.hop, kHopControlPlaneNetwork);
  EXPECT_EQ(verdict.diagnosis, Diagnosis::tcp_timeout);
}

TEST(JudgeWebhook, ARealCallThroughTheOnlyPodOutweighsItsFailedProxyDial) {
  WebhookFacts facts = healthy_injector();
  facts.pods[0].apiserver_dial = dial_timeout();
  const WebhookVerdict verdict = judge_webhook(facts);
  EXPECT_EQ(verdict.hop, kHopNone);
  EXPECT_EQ(verdict_code(verdict), "ok");
  EXPECT_THAT(verdict.message, HasSubstr("its proxy dial of istiod pod istiod-5f8d7c9b4-abcde "
                                         "10.8.0.12:15017 did not (tcp_timeout"));
}

TEST(JudgeWebhook, ARealCallThatPassedDoesNotClearAPodItMayNotHaveReached) {
  WebhookFacts facts = healthy_injector();
  WebhookPodFacts second = pod("istiod-5f8d7c9b4-fghij", "10.8.1.4");
  second.apiserver_dial = failed(Diagnosis::tcp_timeout, "dial tcp 10.8.1.4:15017: i/o timeout");
  second.direct = passed();
  facts.pods.push_back(std::move(second));
  const WebhookVerdict verdict = judge_webhook(facts);
  EXPECT_EQ(verdict.hop, kHopControlPlaneNetwork);
  EXPECT_THAT(verdict.message, HasSubstr("10.8.1.4:15017"));
}

TEST(JudgeWebhook, APodThisAgentCannotReachEitherIsThePodNotTheNetwork) {
  WebhookFacts facts = firewalled_injector();
  facts.pods[0].direct = failed(Diagnosis::tcp_timeout, "connect to 10.8.0.12:15017 timed out");
  const WebhookVerdict verdict = judge_webhook(facts);
  EXPECT_EQ(verdict.hop, kHopPod);
  EXPECT_EQ(verdict.diagnosis, Diagnosis::tcp_timeout);
  EXPECT_THAT(verdict.message, HasSubstr("answers neither the API server"));
  EXPECT_THAT(verdict.message, HasSubstr("not the control plane's network"));
  EXPECT_THAT(verdict.message, Not(HasSubstr("a firewall between")));
  EXPECT_THAT(verdict.remedy, HasSubstr("kubectl -n istio-system logs istiod-5f8d7c9b4-abcde"));
  EXPECT_THAT(verdict.remedy, HasSubstr("NetworkPolicy"));
}

TEST(JudgeWebhook, WithoutADirectProbeTheNetworkVerdictSaysFirewallAndPodCannotBeToldApart) {
  WebhookFacts facts = firewalled_injector();
  facts.pods[0].direct.reset();
  const WebhookVerdict verdict = judge_webhook(facts);
  EXPECT_EQ(verdict.hop, kHopControlPlaneNetwork);
  EXPECT_THAT(verdict.message, HasSubstr("cannot be told apart"));
  EXPECT_THAT(verdict.remedy, HasSubstr("probe 10.8.0.12:15017 from the pod network"));
}

TEST(JudgeWebhook, ThePodThisAgentReachesIsTheOneNamed) {
  WebhookFacts facts = firewalled_injector();
  facts.pods[0].direct = failed(Diagnosis::tcp_refused, "connection refused");
  WebhookPodFacts second = pod("istiod-5f8d7c9b4-fghij", "10.8.1.4");
  second.apiserver_dial = failed(Diagnosis::tcp_timeout, "dial tcp 10.8.1.4:15017: i/o timeout");
  second.direct = passed();
  facts.pods.push_back(std::move(second));
  const WebhookVerdict verdict = judge_webhook(facts);
  EXPECT_EQ(verdict.hop, kHopControlPlaneNetwork);
  EXPECT_THAT(verdict.message, HasSubstr("istiod-5f8d7c9b4-fghij 10.8.1.4:15017"));
  EXPECT_THAT(verdict.message, HasSubstr("1 more of its pods likewise"));
}

TEST(JudgeWebhook, ANotReadyPodTheApiServerDoesNotCallIsNotBlamed) {
  WebhookFacts facts = healthy_injector();
  WebhookPodFacts starting = pod("istiod-5f8d7c9b4-fghij", "10.8.1.4");
  starting.ready = false;
  starting.apiserver_dial = failed(Diagnosis::tcp_refused, "connection refused");
  facts.pods.push_back(std::move(starting));
  EXPECT_EQ(judge_webhook(facts).hop, kHopNone);
}

TEST(JudgeWebhook, AWebhookTimeoutOfTheCallCountsAsAConnectFailure) {
  // A bare `context deadline exceeded`: the dial or the handler.
  WebhookFacts facts = firewalled_injector();
  facts.pods[0].apiserver_dial.reset();
  facts.admission = failed(Diagnosis::webhook_timeout, "context deadline exceeded");
  EXPECT_EQ(judge_webhook(facts).hop, kHopControlPlaneNetwork);
}

TEST(JudgeWebhook, ACaMismatchIsTheCaBundleHop) {
  WebhookFacts facts = healthy_injector();
  facts.ca_bundle = CaBundleState::mismatch;
  facts.ca_bundle_evidence = "10.8.0.12: x509: certificate signed by unknown authority";
  facts.admission = failed(Diagnosis::tls_unknown_authority,
                           "failed calling webhook: tls: failed to verify certificate: x509: "
                           "certificate signed by unknown authority");
  const WebhookVerdict verdict = judge_webhook(facts);
  EXPECT_EQ(verdict.diagnosis, Diagnosis::tls_unknown_authority);
  EXPECT_EQ(verdict.hop, kHopCaBundle);
  EXPECT_THAT(verdict.message, HasSubstr("does not verify the certificate istiod serves"));
  EXPECT_THAT(verdict.message, HasSubstr("10.8.0.12: x509"));
  EXPECT_THAT(verdict.message, HasSubstr("the API server's call confirms it"));
  EXPECT_EQ(verdict.remedy, hygiene_remedy(kCaMismatch));
}

TEST(JudgeWebhook, AMissingCaBundleIsTheCaBundleHop) {
  WebhookFacts facts = healthy_injector();
  facts.admission.reset();
  facts.ca_bundle = CaBundleState::missing;
  const WebhookVerdict verdict = judge_webhook(facts);
  EXPECT_EQ(verdict.diagnosis, Diagnosis::tls_unknown_authority);
  EXPECT_EQ(verdict.hop, kHopCaBundle);
  EXPECT_THAT(verdict.message, HasSubstr("its caBundle is empty"));
  EXPECT_EQ(verdict.remedy, hygiene_remedy(kCaBundleMissing));
}

TEST(JudgeWebhook, TheApiServerRejectingTheChainIsTheCaBundleHopUncompared) {
  WebhookFacts facts = healthy_injector();
  facts.ca_bundle = CaBundleState::not_checked;
  facts.admission =
      failed(Diagnosis::tls_unknown_authority, "x509: certificate signed by unknown authority");
  const WebhookVerdict verdict = judge_webhook(facts);
  EXPECT_EQ(verdict.hop, kHopCaBundle);
  EXPECT_THAT(verdict.message, HasSubstr("was not compared"));
}

TEST(JudgeWebhook, TheCallsOwnFailureIsTheWebhookCallHop) {
  WebhookFacts facts = healthy_injector();
  facts.admission = failed(Diagnosis::http_unexpected_status,
                           "failed calling webhook: the server responded with the status code 500");
  const WebhookVerdict verdict = judge_webhook(facts);
  EXPECT_EQ(verdict.diagnosis, Diagnosis::http_unexpected_status);
  EXPECT_EQ(verdict.hop, kHopWebhookCall);
  EXPECT_THAT(verdict.message, HasSubstr("status code 500"));
  EXPECT_THAT(verdict.message, HasSubstr("its proxy dial of istiod pod"));
  EXPECT_EQ(verdict.remedy, remedy(Diagnosis::http_unexpected_status));
}

TEST(JudgeWebhook, ATlsFailureOtherThanTrustIsTheWebhookCallHop) {
  WebhookFacts facts = healthy_injector();
  facts.admission = failed(Diagnosis::tls_name_mismatch,
                           "x509: certificate is valid for istiod.istio-system.svc, not "
                           "istiod-1-22.istio-system.svc");
  facts.admission->failed_phase = Phase::tls;
  const WebhookVerdict verdict = judge_webhook(facts);
  EXPECT_EQ(verdict.hop, kHopWebhookCall);
  EXPECT_EQ(verdict.diagnosis, Diagnosis::tls_name_mismatch);
  EXPECT_THAT(verdict.message, HasSubstr("the API server's call failed TLS: tls_name_mismatch"));
}

TEST(JudgeWebhook, IgnorePolicyIsNamedWhenTheCallFails) {
  WebhookFacts facts = healthy_injector();
  facts.failure_policy = "Ignore";
  facts.admission = failed(Diagnosis::http_unexpected_status, "status code 500");
  EXPECT_THAT(judge_webhook(facts).message, HasSubstr("failurePolicy Ignore"));
}

TEST(JudgeWebhook, AProxyRequestFailingPastTheDialIsTheWebhookCallHopWithoutTheRealCall) {
  WebhookFacts facts = healthy_injector();
  facts.admission.reset();
  facts.pods[0].apiserver_dial = failed(Diagnosis::http_unexpected_status, "istiod said 503");
  const WebhookVerdict verdict = judge_webhook(facts);
  EXPECT_EQ(verdict.hop, kHopWebhookCall);
  EXPECT_EQ(verdict.diagnosis, Diagnosis::http_unexpected_status);
  EXPECT_THAT(verdict.message, HasSubstr("its proxy request fails"));
}

// --- precedence --------------------------------------------------------------

TEST(JudgeWebhookPrecedence, AMissingServiceWinsOverEverythingAfterIt) {
  WebhookFacts facts = firewalled_injector();
  facts.service_missing = true;
  facts.ca_bundle = CaBundleState::mismatch;
  EXPECT_EQ(judge_webhook(facts).hop, kHopService);
}

TEST(JudgeWebhookPrecedence, NoReadyEndpointWinsOverTheCaBundle) {
  WebhookFacts facts = healthy_injector();
  facts.pods[0].ready = false;
  facts.ca_bundle = CaBundleState::missing;
  EXPECT_EQ(judge_webhook(facts).hop, kHopEndpoints);
}

TEST(JudgeWebhookPrecedence, TheNetworkWinsOverTheCaBundle) {
  WebhookFacts facts = firewalled_injector();
  facts.ca_bundle = CaBundleState::mismatch;
  EXPECT_EQ(judge_webhook(facts).hop, kHopControlPlaneNetwork);
}

TEST(JudgeWebhookPrecedence, TheCaBundleWinsOverTheCallsOwnFailure) {
  WebhookFacts facts = healthy_injector();
  facts.ca_bundle = CaBundleState::mismatch;
  facts.admission = failed(Diagnosis::http_unexpected_status, "status code 500");
  EXPECT_EQ(judge_webhook(facts).hop, kHopCaBundle);
}

TEST(JudgeWebhookPrecedence, ABrokenCaBundleIsReportedEvenWhenTheCallPassed) {
  WebhookFacts facts = healthy_injector();
  facts.ca_bundle = CaBundleState::mismatch;
  const WebhookVerdict verdict = judge_webhook(facts);
  EXPECT_EQ(verdict.hop, kHopCaBundle);
  EXPECT_THAT(verdict.message, HasSubstr("the API server's call passed nonetheless"));
}

// --- hygiene findings as facts -----------------------------------------------

TEST(ApplyHygieneFindings, AStaleRevisionFindingMarksTheServiceMissing) {
  WebhookFacts facts = healthy_injector();
  const std::vector<Finding> findings = {
      {std::string(kStaleRevision), "MutatingWebhookConfiguration/istio-sidecar-injector",
       "namespace.sidecar-injector.istio.io", "calls istiod.istio-system.svc:443", ""}};
  apply_hygiene_findings(facts, findings, false);
  EXPECT_TRUE(facts.service_missing);
}

TEST(ApplyHygieneFindings, ACaMismatchFindingSetsTheStateAndItsEvidence) {
  WebhookFacts facts = healthy_injector();
  facts.ca_bundle = CaBundleState::not_checked;
  const std::vector<Finding> findings = {
      {std::string(kCaMismatch), "MutatingWebhookConfiguration/istio-sidecar-injector",
       "namespace.sidecar-injector.istio.io", "x509: certificate signed by unknown authority", ""}};
  apply_hygiene_findings(facts, findings, true);
  EXPECT_EQ(facts.ca_bundle, CaBundleState::mismatch);
  EXPECT_EQ(facts.ca_bundle_evidence, "x509: certificate signed by unknown authority");
}

TEST(ApplyHygieneFindings, AFindingOfAnotherWebhookIsIgnored) {
  WebhookFacts facts = healthy_injector();
  facts.ca_bundle = CaBundleState::not_checked;
  const std::vector<Finding> findings = {
      {std::string(kCaBundleMissing), "ValidatingWebhookConfiguration/istio-validator",
       "namespace.sidecar-injector.istio.io", "no caBundle", ""}};
  apply_hygiene_findings(facts, findings, true);
  EXPECT_EQ(facts.ca_bundle, CaBundleState::ok);
}

TEST(ApplyHygieneFindings, AnUncheckedCaBundleStaysNotChecked) {
  WebhookFacts facts = healthy_injector();
  facts.ca_bundle = CaBundleState::not_checked;
  apply_hygiene_findings(facts, {}, false);
  EXPECT_EQ(facts.ca_bundle, CaBundleState::not_checked);
}

// --- observed failures --------------------------------------------------------

ObservedFailure observed_timeout(std::string replica_set, std::string time) {
  ObservedFailure failure;
  failure.object = "ReplicaSet shop/" + replica_set;
  failure.webhook = "namespace.sidecar-injector.istio.io";
  failure.diagnosis = Diagnosis::webhook_timeout;
  failure.time = std::move(time);
  failure.message =
      "Error creating: Internal error occurred: failed calling webhook "
      "\"namespace.sidecar-injector.istio.io\": failed to call webhook: Post "
      "\"https://istiod.istio-system.svc:443/inject?timeout=10s\": context deadline exceeded";
  return failure;
}

std::vector<ObservedFailure> three_timeouts() {
  return {observed_timeout("api-9f1", "2026-12-04T10:42:00Z"),
          observed_timeout("web-5c4", "2026-12-04T10:41:00Z"),
          observed_timeout("cart-7d9", "2026-12-04T10:40:00Z")};
}

TEST(JudgeWebhook, ObservedFailuresWithoutAnAdmissionCallAreTheVerdictNotAnUnconfirmedOk) {
  WebhookFacts facts = healthy_injector();
  facts.admission.reset();
  facts.observed = three_timeouts();
  const WebhookVerdict verdict = judge_webhook(facts);
  EXPECT_EQ(verdict.diagnosis, Diagnosis::webhook_timeout);
  EXPECT_EQ(verdict.hop, kHopWebhookCall);
  EXPECT_TRUE(verdict.confirmed());
  EXPECT_EQ(verdict_code(verdict), "webhook_timeout");
  EXPECT_THAT(verdict.message,
              HasSubstr("the API server's real calls fail: 3 ReplicaSets failed to create pods in "
                        "the last hour, all with webhook_timeout"));
  EXPECT_FALSE(verdict.remedy.empty());
}

TEST(JudgeWebhook, ABrokenHopMentionsTheObservedFailures) {
  WebhookFacts facts = firewalled_injector();
  facts.observed = three_timeouts();
  const WebhookVerdict verdict = judge_webhook(facts);
  EXPECT_EQ(verdict.hop, kHopControlPlaneNetwork);
  EXPECT_THAT(verdict.message, HasSubstr("; observed: 3 ReplicaSets failed to create pods"));
  EXPECT_THAT(verdict.message, HasSubstr("the last: ReplicaSet shop/api-9f1 at "
                                         "2026-12-04T10:42:00Z"));
}

TEST(JudgeWebhook, ARealCallThatPassesNowStaysOkButSaysWhatFailedBefore) {
  WebhookFacts facts = healthy_injector();
  facts.observed = three_timeouts();
  const WebhookVerdict verdict = judge_webhook(facts);
  EXPECT_EQ(verdict.diagnosis, Diagnosis::ok);
  EXPECT_EQ(verdict.hop, kHopNone);
  EXPECT_THAT(verdict.message, HasSubstr("yet 3 ReplicaSets failed to create pods"));
  EXPECT_THAT(verdict.message, HasSubstr("the call passes now"));
}

TEST(JudgeWebhook, WithoutObservedFailuresTheMessageSaysNothingOfThem) {
  EXPECT_THAT(judge_webhook(healthy_injector()).message, Not(HasSubstr("failed to create pods")));
}

}  // namespace
}  // namespace meshprobe::kube
