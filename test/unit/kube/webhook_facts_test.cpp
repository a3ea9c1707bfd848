// What a round knows, paired per webhook for its verdict: the admission call
// that went through it (by the name the API server gave, or by the
// namespaceSelector that picks the canary), and each pod's pod-proxy dial and
// direct probe by pod name and IP:port.
#include "kube/webhook_facts.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace meshprobe::kube {
namespace {

constexpr char kCaPem[] = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";

Webhook webhook(std::string name, Labels selected_by) {
  Webhook hook;
  hook.name = std::move(name);
  hook.service = ServiceReference{"istio-system", "istiod", "/inject", 443};
  hook.ca_bundle_pem = kCaPem;
  LabelSelector selector;
  selector.match_labels = std::move(selected_by);
  hook.namespace_selector = std::move(selector);
  return hook;
}

// An injector with a webhook for istio-injection=enabled and one for
// istio.io/rev=canary, the canary namespace labelled for the first, and
// istiod's one pod behind the Service.
KubeSnapshot cluster() {
  KubeSnapshot snapshot;
  ClusterView view;
  WebhookConfiguration injector;
  injector.name = "istio-sidecar-injector";
  injector.webhooks = {
      webhook("namespace.sidecar-injector.istio.io", {{"istio-injection", "enabled"}}),
      webhook("rev.namespace.sidecar-injector.istio.io", {{"istio.io/rev", "canary"}})};
  view.mutating = {injector};
  view.namespaces = {{"meshprobe-canary", {{"istio-injection", "enabled"}}}};
  view.services = {"istiod"};
  snapshot.cluster = view;
  ServiceEndpoints endpoints;
  endpoints.service = {"istiod", "istio-system"};
  endpoints.endpoints = {{"10.8.0.12", 15017, true, true, false, "istiod-abc", "node-1", ""}};
  snapshot.ca_check_endpoints.emplace_back(std::optional<ServiceEndpoints>(endpoints));
  return snapshot;
}

ProbeResult admission(Diagnosis diagnosis, std::string webhook_named = "") {
  ProbeResult result;
  result.target = "injection-dry-run";
  result.url = "admission://inject/meshprobe-canary";
  result.kind = ProbeKind::https;
  result.vantage = "apiserver";
  result.diagnosis = diagnosis;
  result.success = diagnosis == Diagnosis::ok;
  if (!result.success) result.failed_phase = Phase::connect;
  result.message = "the API server's words";
  if (!webhook_named.empty()) result.address_labels["webhook"] = std::move(webhook_named);
  return result;
}

ProbeResult direct_probe(std::string address, std::string port, bool ok) {
  ProbeResult result;
  result.target = "istiod-webhook-pods";
  result.url = "https://istiod.istio-system.svc:443/ready";
  result.kind = ProbeKind::https;
  result.address = std::move(address);
  result.address_labels = {{"port", std::move(port)}, {"pod", "istiod-abc"}};
  result.success = ok;
  result.diagnosis = ok ? Diagnosis::ok : Diagnosis::tcp_timeout;
  return result;
}

const WebhookVerdict& verdict_of(const std::vector<WebhookVerdict>& verdicts,
                                 std::string_view webhook) {
  const auto found = std::ranges::find(verdicts, webhook, &WebhookVerdict::webhook);
  EXPECT_NE(found, verdicts.end()) << webhook;
  return *found;
}

TEST(WebhookVerdicts, AnOkCallGoesToTheWebhookWhoseSelectorPicksTheCanary) {
  const std::vector<ProbeResult> results{admission(Diagnosis::ok)};
  const auto verdicts = webhook_verdicts(cluster(), results, HygieneReport{});
  ASSERT_EQ(verdicts.size(), 2u);
  EXPECT_EQ(verdict_code(verdict_of(verdicts, "namespace.sidecar-injector.istio.io")), "ok");
  EXPECT_EQ(verdict_code(verdict_of(verdicts, "rev.namespace.sidecar-injector.istio.io")),
            kUnconfirmedVerdict);
}

TEST(WebhookVerdicts, ACallTheApiServerNamedGoesToThatWebhookOnly) {
  const std::vector<ProbeResult> results{
      admission(Diagnosis::tcp_timeout, "rev.namespace.sidecar-injector.istio.io")};
  const auto verdicts = webhook_verdicts(cluster(), results, HygieneReport{});
  EXPECT_EQ(verdict_of(verdicts, "rev.namespace.sidecar-injector.istio.io").diagnosis,
            Diagnosis::tcp_timeout);
  EXPECT_EQ(verdict_code(verdict_of(verdicts, "namespace.sidecar-injector.istio.io")),
            kUnconfirmedVerdict);
}

TEST(WebhookVerdicts, ACanaryTheViewDoesNotHoldConfirmsNothing) {
  KubeSnapshot snapshot = cluster();
  snapshot.cluster->namespaces.clear();  // namespaces unread
  const std::vector<ProbeResult> results{admission(Diagnosis::ok)};
  for (const WebhookVerdict& verdict : webhook_verdicts(snapshot, results, HygieneReport{})) {
    EXPECT_FALSE(verdict.confirmed()) << verdict.webhook;
  }
}

TEST(WebhookVerdicts, AFailedCallWithTheSamePodReachedDirectlyIsTheControlPlaneNetwork) {
  const std::vector<ProbeResult> results{
      admission(Diagnosis::tcp_timeout, "namespace.sidecar-injector.istio.io"),
      direct_probe("10.8.0.12", "15017", true)};
  const auto verdicts = webhook_verdicts(cluster(), results, HygieneReport{});
  const WebhookVerdict& verdict = verdict_of(verdicts, "namespace.sidecar-injector.istio.io");
  EXPECT_EQ(verdict.hop, kHopControlPlaneNetwork);
  EXPECT_THAT(verdict.message, testing::HasSubstr("10.8.0.12:15017"));
}

TEST(WebhookVerdicts, TheSnapshotsControlPlaneNamesThePlatformAndAddressesInTheRemedy) {
  KubeSnapshot snapshot = cluster();
  snapshot.control_plane = ControlPlaneRead{{Platform::gke, {"172.16.0.2"}}, {}};
  const std::vector<ProbeResult> results{
      admission(Diagnosis::tcp_timeout, "namespace.sidecar-injector.istio.io"),
      direct_probe("10.8.0.12", "15017", true)};
  const auto verdicts = webhook_verdicts(snapshot, results, HygieneReport{});
  const WebhookVerdict& verdict = verdict_of(verdicts, "namespace.sidecar-injector.istio.io");
  EXPECT_EQ(verdict.platform, Platform::gke);
  EXPECT_THAT(verdict.remedy, testing::HasSubstr("GKE private cluster: add tcp:15017"));
  EXPECT_THAT(verdict.remedy, testing::HasSubstr("the API server answers from 172.16.0.2"));
  EXPECT_TRUE(verdict.notes.empty());
}

TEST(WebhookVerdicts, AControlPlaneReadThatFailedIsANoteOnEveryVerdict) {
  KubeSnapshot snapshot = cluster();
  snapshot.control_plane =
      ControlPlaneRead{{}, {"nodes: forbidden (403): meshprobe needs RBAC verb \"list\""}};
  const std::vector<ProbeResult> results{
      admission(Diagnosis::tcp_timeout, "namespace.sidecar-injector.istio.io"),
      direct_probe("10.8.0.12", "15017", true)};
  const auto verdicts = webhook_verdicts(snapshot, results, HygieneReport{});
  ASSERT_EQ(verdicts.size(), 2u);
  const WebhookVerdict& verdict = verdict_of(verdicts, "namespace.sidecar-injector.istio.io");
  EXPECT_EQ(verdict.hop, kHopControlPlaneNetwork);
  EXPECT_EQ(verdict.platform, Platform::unknown);
  for (const WebhookVerdict& each : verdicts) {
    EXPECT_THAT(each.notes, testing::ElementsAre(testing::HasSubstr("nodes: forbidden (403)")));
  }
}

TEST(WebhookVerdicts, ADirectProbeOfAnotherPortIsNotThePods) {
  const std::vector<ProbeResult> results{
      admission(Diagnosis::tcp_timeout, "namespace.sidecar-injector.istio.io"),
      direct_probe("10.8.0.12", "15012", true)};
  const auto verdicts = webhook_verdicts(cluster(), results, HygieneReport{});
  const WebhookVerdict& verdict = verdict_of(verdicts, "namespace.sidecar-injector.istio.io");
  EXPECT_THAT(verdict.message,
              testing::Not(testing::HasSubstr("this agent in the pod network reaches")));
}

TEST(WebhookVerdicts, ACaBundleTheHygieneRunVerifiedCountsAsChecked) {
  HygieneReport hygiene;
  hygiene.ca_verified = {{"MutatingWebhookConfiguration/istio-sidecar-injector",
                          "namespace.sidecar-injector.istio.io"}};
  hygiene.findings = {{"webhook_ca_mismatch", "MutatingWebhookConfiguration/istio-sidecar-injector",
                       "rev.namespace.sidecar-injector.istio.io", "10.8.0.12: x509", ""}};
  const std::vector<ProbeResult> results{admission(Diagnosis::ok)};
  const auto verdicts = webhook_verdicts(cluster(), results, hygiene);
  EXPECT_EQ(verdict_code(verdict_of(verdicts, "namespace.sidecar-injector.istio.io")), "ok");
  EXPECT_EQ(verdict_of(verdicts, "rev.namespace.sidecar-injector.istio.io").hop, kHopCaBundle);
}

TEST(WebhookVerdicts, WebhooksOutsideIstiosNamespaceAreLeftOut) {
  KubeSnapshot snapshot = cluster();
  snapshot.cluster->mutating[0].webhooks[1].service->ns = "cert-manager";
  EXPECT_EQ(webhook_verdicts(snapshot, {}, HygieneReport{}).size(), 1u);
}

TEST(WebhookVerdicts, WithoutTheClusterViewThereAreNone) {
  KubeSnapshot snapshot = cluster();
  snapshot.cluster.reset();
  EXPECT_TRUE(webhook_verdicts(snapshot, {}, HygieneReport{}).empty());
}

}  // namespace
}  // namespace meshprobe::kube
