// Kubernetes mode in the config: the `kubernetes` section, CA bundles read
// from webhook configurations and ConfigMaps, `discover` and `via` -- all
// validated without contacting a cluster.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "config/config.h"
#include "config_fixture.h"

namespace meshprobe::config_test {
namespace {

using namespace std::chrono_literals;
using testing::StartsWith;

TEST_F(ConfigTest, LoadsTheKubernetesSection) {
  const Config config = parsed(R"(
kubernetes:
  kubeconfig: kube/config
  context: prod
  refresh: 2m
  request_timeout: 5s
  hygiene: false
  istio_namespace: istio-mesh
targets: [{url: "tcp://a.example:1"}]
)");
  EXPECT_TRUE(config.kubernetes.enabled);
  EXPECT_EQ(config.kubernetes.kubeconfig, "kube/config");  // relative to meshprobe.yaml's directory
  EXPECT_EQ(config.kubernetes.context, "prod");
  EXPECT_EQ(config.kubernetes.refresh, 120s);
  EXPECT_EQ(config.kubernetes.request_timeout, 5s);
  EXPECT_FALSE(config.kubernetes.hygiene);
  EXPECT_EQ(config.kubernetes.istio_namespace, "istio-mesh");
  EXPECT_EQ(config.kubernetes.line, 1);
}

TEST_F(ConfigTest, TheRevisionNamesWhoseMeshConfigIsRead) {
  const Config config = parsed(R"(
kubernetes: {revision: asm-1121-3}
targets: [{url: "tcp://a.example:1"}]
)");
  EXPECT_EQ(config.kubernetes.revision, "asm-1121-3");
}

TEST_F(ConfigTest, WithoutARevisionTheDefaultRevisionsMeshConfigIsRead) {
  const Config config = parsed(R"(
kubernetes: {}
targets: [{url: "tcp://a.example:1"}]
)");
  EXPECT_EQ(config.kubernetes.revision, "");
}

TEST_F(ConfigTest, TakesTheKubeconfigRelativeToTheConfigFile) {
  const std::filesystem::path file = dir_.path() / "meshprobe.yaml";
  test::write_file(file,
                   "kubernetes: {kubeconfig: kubeconfig.yaml}\n"
                   "targets: [{url: \"tcp://a.example:1\"}]\n");
  EXPECT_EQ(load_config(file.string()).kubernetes.kubeconfig,
            (dir_.path() / "kubeconfig.yaml").string());
}

TEST_F(ConfigTest, AnEmptyKubernetesSectionMeansInClusterDefaults) {
  const Config config = parsed(R"(
kubernetes:
targets: [{url: "tcp://a.example:1"}]
)");
  EXPECT_TRUE(config.kubernetes.enabled);
  EXPECT_TRUE(config.kubernetes.kubeconfig.empty());
  EXPECT_EQ(config.kubernetes.refresh, 60s);
  EXPECT_TRUE(config.kubernetes.hygiene);
  EXPECT_EQ(config.kubernetes.istio_namespace, "istio-system");
}

TEST_F(ConfigTest, WithoutKubernetesKeysKubernetesModeIsOff) {
  EXPECT_FALSE(parsed("targets: [{url: \"tcp://a.example:1\"}]\n").kubernetes.enabled);
}

TEST_F(ConfigTest, LoadsWebhookAndConfigMapSourcesWithoutContactingTheCluster) {
  const Config config = parsed(R"(
ca_bundles:
  injector: {mutating_webhook: istio-sidecar-injector, webhook: rev.namespace.sidecar-injector.istio.io}
  validator: {validating_webhook: istio-validator-istio-system}
  mesh-root: {configmap: istio-system/istio-ca-root-cert, key: root-cert.pem}
targets: [{url: "tcp://a.example:1"}]
)");
  ASSERT_EQ(config.ca_bundles.size(), 3u);
  EXPECT_EQ(config.ca_bundles[0].kind, CaSourceKind::mutating_webhook);
  EXPECT_EQ(config.ca_bundles[0].object_name, "istio-sidecar-injector");
  EXPECT_EQ(config.ca_bundles[0].webhook, "rev.namespace.sidecar-injector.istio.io");
  EXPECT_EQ(config.ca_bundles[0].bundle, nullptr);  // read from the API at run time
  EXPECT_EQ(config.ca_bundles[1].kind, CaSourceKind::validating_webhook);
  EXPECT_TRUE(config.ca_bundles[1].webhook.empty());  // the first entry
  EXPECT_EQ(config.ca_bundles[2].kind, CaSourceKind::configmap);
  EXPECT_EQ(config.ca_bundles[2].object_namespace, "istio-system");
  EXPECT_EQ(config.ca_bundles[2].object_name, "istio-ca-root-cert");
  EXPECT_EQ(config.ca_bundles[2].key, "root-cert.pem");
  EXPECT_TRUE(config.kubernetes.enabled);  // a Kubernetes source needs the API
}

TEST_F(ConfigTest, AConfigMapSourcesKeyDefaultsToRootCertPem) {
  const Config config = parsed(R"(
ca_bundles:
  mesh-root: {configmap: istio-system/istio-ca-root-cert}
targets: [{url: "tcp://a.example:1"}]
)");
  EXPECT_EQ(config.ca_bundles[0].key, "root-cert.pem");
}

TEST_F(ConfigTest, ATargetNamingAKubernetesBundleWaitsForTheApi) {
  const Config config = parsed(R"(
ca_bundles:
  injector: {mutating_webhook: istio-sidecar-injector}
targets:
  - url: https://istiod.istio-system.svc:443/ready
    ca: injector
)");
  const TargetConfig& target = config.targets[0];
  EXPECT_TRUE(target.ca_from_kubernetes);
  EXPECT_EQ(target.target->ca, nullptr);
  EXPECT_TRUE(target.needs_kubernetes());
  EXPECT_TRUE(config.kubernetes.enabled);  // in-cluster, without a kubernetes section
}

TEST_F(ConfigTest, LoadsDiscoverAndVia) {
  const Config config = parsed(R"(
targets:
  - name: pods
    url: https://istiod.istio-system.svc.cluster.local:443/inject
    discover: endpoints
  - name: revisions
    url: grpc://istiod.istio-system.svc:15012
    discover: revisions
  - name: from-apiserver
    url: https://istiod.istio-system.svc:443/ready
    via: apiserver
  - name: direct
    url: tcp://10.0.0.1:15017
    via: direct
)");
  EXPECT_EQ(config.targets[0].discover, Discovery::endpoints);
  EXPECT_EQ(config.targets[1].discover, Discovery::revisions);
  EXPECT_EQ(config.targets[2].via, Via::apiserver);
  EXPECT_EQ(config.targets[3].via, Via::direct);
  EXPECT_FALSE(config.targets[3].needs_kubernetes());
  EXPECT_TRUE(config.kubernetes.enabled);
}

TEST_F(ConfigTest, RemembersAnExplicitServerName) {
  const Config config = parsed(R"(
targets:
  - url: https://istiod.istio-system.svc.cluster.local:443/ready
    discover: endpoints
    server_name: istiod.istio-system.svc.cluster.local
  - url: https://istiod.istio-system.svc:15017/ready
)");
  EXPECT_TRUE(config.targets[0].explicit_server_name);
  EXPECT_FALSE(config.targets[1].explicit_server_name);
}

TEST_F(ConfigTest, RefusesAnUnknownKubernetesKey) {
  EXPECT_THAT(refusal(R"(
kubernetes:
  kubeconfig: /root/.kube/config
  namespace: istio-system
targets: [{url: "tcp://a.example:1"}]
)"),
              StartsWith(at_line(3) + "unknown key \"namespace\" in \"kubernetes\"; known keys: "
                                      "kubeconfig, context, refresh"));
}

TEST_F(ConfigTest, RefusesARefreshUnderOneSecond) {
  EXPECT_THAT(refusal(R"(
kubernetes:
  refresh: 500ms
targets: [{url: "tcp://a.example:1"}]
)"),
              StartsWith(at_line(2) + "\"refresh\" must be at least 1s"));
}

TEST_F(ConfigTest, RefusesAnInvalidIstioNamespace) {
  EXPECT_THAT(refusal(R"(
kubernetes: {istio_namespace: Istio_System}
targets: [{url: "tcp://a.example:1"}]
)"),
              StartsWith(at_line(1) + "invalid namespace \"Istio_System\""));
}

TEST_F(ConfigTest, RefusesAConfigMapWithoutItsNamespace) {
  EXPECT_EQ(refusal(R"(
ca_bundles:
  mesh-root:
    configmap: istio-ca-root-cert
targets: [{url: "tcp://a.example:1"}]
)"),
            at_line(3) +
                "\"configmap\" must be NAMESPACE/NAME, e.g. "
                "istio-system/istio-ca-root-cert, got \"istio-ca-root-cert\"");
}

TEST_F(ConfigTest, RefusesAnInvalidWebhookConfigurationName) {
  EXPECT_THAT(refusal(R"(
ca_bundles:
  injector:
    mutating_webhook: Istio-Sidecar-Injector
targets: [{url: "tcp://a.example:1"}]
)"),
              StartsWith(at_line(3) + "invalid webhook configuration name "
                                      "\"Istio-Sidecar-Injector\""));
}

TEST_F(ConfigTest, RefusesAWebhookEntryWithoutAWebhookConfiguration) {
  EXPECT_THAT(refusal(R"(
ca_bundles:
  mesh-root:
    configmap: istio-system/istio-ca-root-cert
    webhook: rev.namespace.sidecar-injector.istio.io
targets: [{url: "tcp://a.example:1"}]
)"),
              StartsWith(at_line(4) + "\"webhook\" names an entry of a webhook configuration"));
}

TEST_F(ConfigTest, RefusesAKeyWithoutAConfigMap) {
  EXPECT_THAT(refusal(R"(
ca_bundles:
  injector:
    mutating_webhook: istio-sidecar-injector
    key: root-cert.pem
targets: [{url: "tcp://a.example:1"}]
)"),
              StartsWith(at_line(4) + "\"key\" names a ConfigMap key"));
}

TEST_F(ConfigTest, RefusesKubernetesOnlyKeysOnAFileBundle) {
  EXPECT_THAT(refusal(R"(
ca_bundles:
  root:
    file: "{ca_file}"
    key: root-cert.pem
targets: [{url: "tcp://a.example:1"}]
)"),
              StartsWith(at_line(4) + "\"key\""));
}

TEST_F(ConfigTest, RefusesAFileAndAKubernetesSourceTogether) {
  EXPECT_THAT(refusal(R"(
ca_bundles:
  root: {file: "{ca_file}", configmap: istio-system/istio-ca-root-cert}
targets: [{url: "tcp://a.example:1"}]
)"),
              StartsWith(at_line(2) + "CA bundle \"root\" needs exactly one of"));
}

TEST_F(ConfigTest, RefusesDiscoveryOnAHostThatIsNoService) {
  EXPECT_EQ(refusal(R"(
targets:
  - url: https://10.0.0.1:443/ready
    discover: endpoints
)"),
            at_line(3) +
                "\"discover: endpoints\" needs a Service host NAME.NAMESPACE.svc (or "
                "NAME.NAMESPACE.svc.cluster.local), and "
                "\"https://10.0.0.1:443/ready\" has \"10.0.0.1\"");
}

TEST_F(ConfigTest, RefusesAnUnknownDiscovery) {
  EXPECT_THAT(refusal(R"(
targets:
  - url: https://istiod.istio-system.svc:443/ready
    discover: pods
)"),
              StartsWith(at_line(3) + "\"discover\" must be endpoints or revisions, got \"pods\""));
}

TEST_F(ConfigTest, RefusesTheApiServerVantageForANonHttpsTarget) {
  EXPECT_THAT(refusal(R"(
targets:
  - url: grpc://istiod.istio-system.svc:15012
    via: apiserver
)"),
              StartsWith(at_line(3) + "\"via: apiserver\" needs an https:// target"));
}

TEST_F(ConfigTest, RefusesTrustSettingsWithTheApiServerVantage) {
  EXPECT_THAT(refusal(R"(
ca_bundles:
  injector: {mutating_webhook: istio-sidecar-injector}
targets:
  - url: https://istiod.istio-system.svc:443/ready
    via: apiserver
    ca: injector
)"),
              StartsWith(at_line(6) + "\"ca\" does not apply with \"via: apiserver\""));
}

TEST_F(ConfigTest, RefusesAnUnknownVia) {
  EXPECT_THAT(refusal(R"(
targets:
  - url: https://istiod.istio-system.svc:443/ready
    via: kubelet
)"),
              StartsWith(at_line(3) + "\"via\" must be apiserver or direct, got \"kubelet\""));
}

}  // namespace
}  // namespace meshprobe::config_test
