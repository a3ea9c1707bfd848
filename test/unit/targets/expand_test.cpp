// Configured targets expanded with what the cluster said: pure, so every
// case is a snapshot built here.
#include "agent/targets/expand.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "agent/targets/builtin.h"
#include "kube/hygiene_run.h"
#include "test/support/test_pki.h"

namespace meshprobe {
namespace {

using testing::HasSubstr;

constexpr const char* kConfig = R"(
node_name: n1
kubernetes: {}
ca_bundles:
  injector: {mutating_webhook: istio-sidecar-injector}
targets:
  - name: webhook-pods
    url: https://istiod.istio-system.svc.cluster.local:443/ready
    discover: endpoints
    ca: injector
  - name: plain
    url: tcp://127.0.0.1:1
  - name: from-apiserver
    url: https://istiod.istio-system.svc:443/ready
    via: apiserver
  - name: revisions
    url: https://istiod.istio-system.svc:443/ready
    discover: revisions
    ca: injector
)";

Config config() { return parse_config(kConfig, "test.yaml"); }

kube::DiscoveredEndpoint endpoint(std::string address, std::uint16_t port, bool ready,
                                  std::string pod) {
  kube::DiscoveredEndpoint e;
  e.address = std::move(address);
  e.port = port;
  e.ready = ready;
  e.serving = ready;
  e.pod = std::move(pod);
  e.node = "node-a";
  return e;
}

DiscoveredService service(std::string name, std::vector<kube::DiscoveredEndpoint> endpoints) {
  DiscoveredService found;
  found.service = {name, "istio-system"};
  found.exists = true;
  found.endpoints.service = found.service;
  found.endpoints.port_name = "https-webhook";
  found.endpoints.endpoints = std::move(endpoints);
  return found;
}

class KubeTargetsTest : public testing::Test {
 protected:
  KubeTargetsTest() : ca_(test::TestCa::create("kube targets test")) {
    snapshot_.read_at = WallClock::now();
    snapshot_.bundles.emplace("injector", *CaBundle::from_pem(ca_.cert_pem, "injector"));
    set_discovery("webhook-pods", std::vector<DiscoveredService>{service(
                                      "istiod", {endpoint("10.8.0.12", 15017, true, "istiod-a"),
                                                 endpoint("10.8.1.7", 15017, false, "istiod-b")})});
    set_discovery("revisions",
                  std::vector<DiscoveredService>{
                      service("istiod", {endpoint("10.8.0.12", 15017, true, "istiod-a")}),
                      service("istiod-1-22", {endpoint("10.8.3.3", 15017, true, "istiod-c")})});
  }

  void set_discovery(const std::string& target, Expected<std::vector<DiscoveredService>> found) {
    snapshot_.discoveries.erase(target);
    snapshot_.discoveries.emplace(target, std::move(found));
  }

  const ExpandedTarget& named(const std::vector<ExpandedTarget>& all, const std::string& name) {
    for (const ExpandedTarget& t : all) {
      if (t.spec.target->name == name) return t;
    }
    throw std::runtime_error("no target " + name);
  }

  test::TestCa ca_;
  KubeSnapshot snapshot_;
};

TEST_F(KubeTargetsTest, EndpointDiscoveryPinsEveryAddressWithItsLabels) {
  const auto all = expand_targets(config(), &snapshot_);
  const ExpandedTarget& pods = named(all, "webhook-pods");
  ASSERT_FALSE(pods.verdict);
  const Target& target = *pods.spec.target;
  EXPECT_EQ(target.addresses, (std::vector<std::string>{"10.8.0.12", "10.8.1.7"}));
  EXPECT_EQ(target.port, 15017);
  EXPECT_EQ(target.url, "https://istiod.istio-system.svc.cluster.local:443/ready");
  EXPECT_EQ(target.address_labels.at("10.8.1.7").at("ready"), "false");
  EXPECT_EQ(target.address_labels.at("10.8.0.12").at("pod"), "istiod-a");
  EXPECT_EQ(target.address_labels.at("10.8.0.12").at("port"), "15017");
}

TEST_F(KubeTargetsTest, SniAndExpectedNameStayTheServiceNameWithoutClusterLocal) {
  const auto all = expand_targets(config(), &snapshot_);
  EXPECT_EQ(named(all, "webhook-pods").spec.target->server_name, "istiod.istio-system.svc");
}

TEST_F(KubeTargetsTest, TheWebhooksCaBundleIsAttached) {
  const auto all = expand_targets(config(), &snapshot_);
  EXPECT_EQ(named(all, "webhook-pods").spec.target->ca, *snapshot_.bundles.at("injector"));
}

TEST_F(KubeTargetsTest, AnUnreadableCaBundleIsAKubernetesApiErrorVerdict) {
  snapshot_.bundles.erase("injector");
  snapshot_.bundles.emplace("injector",
                            Error{"forbidden (403): meshprobe needs RBAC verb \"get\""});
  const auto all = expand_targets(config(), &snapshot_);
  const ExpandedTarget& pods = named(all, "webhook-pods");
  ASSERT_TRUE(pods.verdict);
  EXPECT_EQ(pods.verdict->diagnosis, Diagnosis::kubernetes_api_error);
  EXPECT_THAT(pods.verdict->message, HasSubstr("CA bundle \"injector\": forbidden"));
  EXPECT_FALSE(pods.verdict->success);
}

TEST_F(KubeTargetsTest, AServiceWithoutEndpointsIsTcpRefusedAsTheApiServerWouldSay) {
  set_discovery("webhook-pods", std::vector<DiscoveredService>{service("istiod", {})});
  const auto all = expand_targets(config(), &snapshot_);
  const ExpandedTarget& pods = named(all, "webhook-pods");
  ASSERT_TRUE(pods.verdict);
  EXPECT_EQ(pods.verdict->diagnosis, Diagnosis::tcp_refused);
  EXPECT_THAT(pods.verdict->message, HasSubstr("no endpoints available for service \"istiod\""));
}

TEST_F(KubeTargetsTest, AMissingServiceIsDnsNotFound) {
  DiscoveredService gone;
  gone.service = {"istiod", "istio-system"};
  set_discovery("webhook-pods", std::vector<DiscoveredService>{gone});
  const auto all = expand_targets(config(), &snapshot_);
  const ExpandedTarget& pods = named(all, "webhook-pods");
  ASSERT_TRUE(pods.verdict);
  EXPECT_EQ(pods.verdict->diagnosis, Diagnosis::dns_not_found);
  EXPECT_THAT(pods.verdict->message, HasSubstr("Service \"istiod\" not found"));
}

TEST_F(KubeTargetsTest, EndpointsOnTwoPortsBecomeTwoTargets) {
  set_discovery("webhook-pods", std::vector<DiscoveredService>{
                                    service("istiod", {endpoint("10.8.0.12", 15017, true, "a"),
                                                       endpoint("10.8.0.13", 16017, true, "b")})});
  const auto all = expand_targets(config(), &snapshot_);
  EXPECT_EQ(named(all, "webhook-pods:15017").spec.target->addresses,
            (std::vector<std::string>{"10.8.0.12"}));
  EXPECT_EQ(named(all, "webhook-pods:16017").spec.target->port, 16017);
}

TEST_F(KubeTargetsTest, RevisionDiscoveryMakesATargetPerRevisionService) {
  const auto all = expand_targets(config(), &snapshot_);
  const Target& revision = *named(all, "revisions/istiod-1-22").spec.target;
  EXPECT_EQ(revision.url, "https://istiod-1-22.istio-system.svc:443/ready");
  EXPECT_EQ(revision.server_name, "istiod-1-22.istio-system.svc");
  EXPECT_EQ(revision.addresses, (std::vector<std::string>{"10.8.3.3"}));
  EXPECT_EQ(named(all, "revisions/istiod").spec.target->addresses,
            (std::vector<std::string>{"10.8.0.12"}));
}

TEST_F(KubeTargetsTest, TheApiServerVantageIsHandedToItsDelegate) {
  const auto all = expand_targets(config(), &snapshot_);
  const Target& target = *named(all, "from-apiserver").spec.target;
  EXPECT_EQ(target.via, "apiserver");
  EXPECT_EQ(target.vantage, "apiserver");
  EXPECT_TRUE(target.addresses.empty());  // the service proxy
}

TEST_F(KubeTargetsTest, BeforeTheFirstReadKubernetesTargetsArePending) {
  const auto all = expand_targets(config(), nullptr);
  EXPECT_TRUE(named(all, "webhook-pods").pending);
  EXPECT_FALSE(named(all, "plain").pending);
}

TEST_F(KubeTargetsTest, ATargetTheSnapshotWasNotReadForIsPending) {
  snapshot_.discoveries.erase("webhook-pods");
  const auto all = expand_targets(config(), &snapshot_);
  EXPECT_TRUE(named(all, "webhook-pods").pending);
}

TEST_F(KubeTargetsTest, TargetsWithoutKubernetesKeysAreUntouched) {
  const auto all = expand_targets(config(), &snapshot_);
  const Target& plain = *named(all, "plain").spec.target;
  EXPECT_EQ(plain.host, "127.0.0.1");
  EXPECT_TRUE(plain.addresses.empty());
  EXPECT_TRUE(plain.via.empty());
}

TEST_F(KubeTargetsTest, TargetsWithoutKubernetesKeysShareTheConfigsTarget) {
  const Config& configured = config();
  const auto all = expand_targets(configured, &snapshot_);
  const auto in_config = std::ranges::find(configured.targets, std::string("plain"),
                                           [](const TargetConfig& tc) { return tc.target->name; });
  ASSERT_NE(in_config, configured.targets.end());
  EXPECT_EQ(named(all, "plain").spec.target, in_config->target);
}

TEST(KubernetesBuiltins, AreAValidConfigForTheRevision) {
  const Config config = parse_config(kubernetes_builtin_config("1-22"), "builtin");
  EXPECT_TRUE(config.kubernetes.enabled);
  ASSERT_EQ(config.targets.size(), 3u);
  EXPECT_EQ(config.targets[0].target->host, "istiod-1-22.istio-system.svc");
  EXPECT_EQ(config.targets[0].discover, Discovery::endpoints);
  EXPECT_EQ(config.targets[1].target->kind, ProbeKind::grpc);
  EXPECT_EQ(config.targets[2].via, Via::apiserver);
  EXPECT_EQ(config.ca_bundles[0].object_name, "istio-sidecar-injector-1-22");
  EXPECT_EQ(config.ca_bundles[1].kind, CaSourceKind::configmap);
}

TEST(KubernetesBuiltins, TheRevisionChoosesWhoseMeshConfigTheHygieneReads) {
  EXPECT_EQ(parse_config(kubernetes_builtin_config("1-22"), "builtin").kubernetes.revision, "1-22");
  EXPECT_EQ(parse_config(kubernetes_builtin_config(""), "builtin").kubernetes.revision, "");
}

TEST(KubernetesBuiltins, AConfiguredDiscoveryAddressIsTheXdsTargetInsteadOfIstiods) {
  const Config config = parse_config(
      kubernetes_builtin_config("", "istio-system", "", "istiod-asm-1121-3.istio-system.svc:15012"),
      "builtin");
  ASSERT_EQ(config.targets.size(), 3u);
  const Target& xds = *config.targets[1].target;
  EXPECT_EQ(xds.name, "xds-discovery-address");
  EXPECT_EQ(xds.url, "grpc://istiod-asm-1121-3.istio-system.svc:15012");
  EXPECT_EQ(xds.kind, ProbeKind::grpc);
  EXPECT_EQ(config.targets[1].discover, Discovery::endpoints);
  EXPECT_EQ(xds.labels.at("discovery_address"), "mesh_config");
  for (const TargetConfig& tc : config.targets) EXPECT_NE(tc.target->name, "istiod-xds-pods");
}

TEST(KubernetesBuiltins, ADiscoveryAddressThatIsNoServiceIsProbedByName) {
  const Config config = parse_config(
      kubernetes_builtin_config("", "istio-system", "", "xds.mesh.example:15012"), "builtin");
  EXPECT_EQ(config.targets[1].target->host, "xds.mesh.example");
  EXPECT_EQ(config.targets[1].discover, Discovery::none);
}

TEST(KubernetesBuiltins, WithACanaryNamespaceDryRunAPodAndAGatewayThere) {
  const Config config =
      parse_config(kubernetes_builtin_config("", "istio-system", "mesh-canary"), "builtin");
  ASSERT_EQ(config.targets.size(), 5u);
  EXPECT_EQ(config.targets[3].admission, Admission::inject);
  EXPECT_EQ(config.targets[3].target->host, "mesh-canary");
  EXPECT_EQ(config.targets[4].admission, Admission::validate);
  EXPECT_EQ(config.targets[4].target->name, "validation-dry-run");
}

TEST_F(KubeTargetsTest, AnAdmissionTargetIsProbedThroughItsDelegateAsConfigured) {
  const Config configured =
      parse_config("targets: [{name: dry, admission: inject, namespace: c}]\n", "t");
  const auto all = expand_targets(configured, &snapshot_);
  ASSERT_EQ(all.size(), 1u);
  EXPECT_FALSE(all[0].verdict);
  EXPECT_EQ(all[0].spec.target->via, kAdmissionInjectVia);
  EXPECT_EQ(all[0].spec.target->vantage, "apiserver");
  EXPECT_EQ(all[0].spec.interval, kAdmissionInterval);
}

TEST(CaCheckTargets, VerifyTheEndpointsForTheServiceName) {
  kube::CaCheck check;
  check.service = {"istiod", "istio-system"};
  kube::ServiceEndpoints endpoints;
  endpoints.endpoints = {endpoint("10.8.0.12", 15017, true, "a")};
  const auto targets = ca_check_targets(check, endpoints, nullptr, std::chrono::seconds(2));
  ASSERT_EQ(targets.size(), 1u);
  EXPECT_EQ(targets[0].kind, ProbeKind::tls);
  EXPECT_EQ(targets[0].server_name, "istiod.istio-system.svc");
  EXPECT_EQ(targets[0].port, 15017);
  EXPECT_EQ(targets[0].addresses, (std::vector<std::string>{"10.8.0.12"}));
}

}  // namespace
}  // namespace meshprobe
