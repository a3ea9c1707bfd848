// The mesh config's discovery address as Istio keeps it: the MeshConfig
// YAML under the key `mesh` of the ConfigMap istio (istio-REV for a
// revision), read for defaultConfig.discoveryAddress.
#include "kube/mesh_config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace meshprobe::kube {
namespace {

using testing::HasSubstr;

// The shape istioctl installs (trimmed): other MeshConfig keys around it.
constexpr const char* kRevisionedMesh = R"(accessLogFile: /dev/stdout
defaultConfig:
  discoveryAddress: istiod-asm-1121-3.istio-system.svc:15012
  proxyMetadata: {}
  tracing:
    zipkin:
      address: zipkin.istio-system:9411
enablePrometheusMerge: true
rootNamespace: istio-system
trustDomain: cluster.local
)";

TEST(MeshConfig, TheDefaultRevisionReadsConfigMapIstio) {
  EXPECT_EQ(mesh_config_map_name(""), "istio");
  EXPECT_EQ(mesh_config_map_name("default"), "istio");
}

TEST(MeshConfig, ARevisionReadsConfigMapIstioDashRevision) {
  EXPECT_EQ(mesh_config_map_name("asm-1121-3"), "istio-asm-1121-3");
}

TEST(MeshConfig, TheDiscoveryAddressIsDefaultConfigsDiscoveryAddress) {
  const auto address = discovery_address_of_mesh(kRevisionedMesh);
  ASSERT_TRUE(address) << address.error().message;
  EXPECT_EQ(*address, std::optional<std::string>("istiod-asm-1121-3.istio-system.svc:15012"));
}

TEST(MeshConfig, AMeshWithoutDefaultConfigSetsNoAddress) {
  const auto address = discovery_address_of_mesh("rootNamespace: istio-system\n");
  ASSERT_TRUE(address) << address.error().message;
  EXPECT_EQ(*address, std::nullopt);
}

TEST(MeshConfig, ADefaultConfigWithoutDiscoveryAddressSetsNoAddress) {
  const auto address = discovery_address_of_mesh("defaultConfig:\n  proxyMetadata: {}\n");
  ASSERT_TRUE(address) << address.error().message;
  EXPECT_EQ(*address, std::nullopt);
}

TEST(MeshConfig, AnEmptyMeshSetsNoAddress) {
  const auto address = discovery_address_of_mesh("");
  ASSERT_TRUE(address) << address.error().message;
  EXPECT_EQ(*address, std::nullopt);
}

TEST(MeshConfig, BadYamlIsAnErrorWithItsLine) {
  const auto address = discovery_address_of_mesh("defaultConfig:\n  discoveryAddress: [a\n");
  ASSERT_FALSE(address);
  EXPECT_THAT(address.error().message, HasSubstr("is not valid YAML (line"));
}

TEST(MeshConfig, AMeshThatIsNotAMappingIsAnError) {
  const auto address = discovery_address_of_mesh("- a\n- b\n");
  ASSERT_FALSE(address);
  EXPECT_THAT(address.error().message, HasSubstr("not a mapping"));
}

TEST(MeshConfig, ADiscoveryAddressThatIsNotTextIsAnError) {
  const auto address = discovery_address_of_mesh("defaultConfig:\n  discoveryAddress: {a: b}\n");
  ASSERT_FALSE(address);
  EXPECT_THAT(address.error().message, HasSubstr("not text"));
}

TEST(MeshConfig, IstiosDefaultAddressIsTheRevisionsIstiodOnTheXdsPort) {
  EXPECT_EQ(default_discovery_address("", "istio-system"), "istiod.istio-system.svc:15012");
  EXPECT_EQ(default_discovery_address("1-22", "mesh"), "istiod-1-22.mesh.svc:15012");
}

// ---- A pod's own proxy.istio.io/config ------------------------------------

Pod annotated_pod(const std::string& ns, const std::string& name, const std::string& proxy_config) {
  Pod pod;
  pod.ns = ns;
  pod.name = name;
  pod.annotations.emplace(std::string(kProxyConfigAnnotation), proxy_config);
  return pod;
}

TEST(PodProxyConfig, TheAnnotationsDiscoveryAddressIsTopLevel) {
  const auto address = discovery_address_of_proxy_config(
      "discoveryAddress: istiod-canary.istio-system.svc:15012\nholdApplicationUntilProxyStarts: "
      "true\n");
  ASSERT_TRUE(address) << address.error().message;
  EXPECT_EQ(*address, std::optional<std::string>("istiod-canary.istio-system.svc:15012"));
}

TEST(PodProxyConfig, AnAnnotationWithoutAnAddressSetsNone) {
  const auto address = discovery_address_of_proxy_config("holdApplicationUntilProxyStarts: true\n");
  ASSERT_TRUE(address) << address.error().message;
  EXPECT_FALSE(address->has_value());
}

TEST(PodProxyConfig, AnAddressThatIsNotTextIsAnError) {
  const auto address = discovery_address_of_proxy_config("discoveryAddress: [a, b]\n");
  ASSERT_FALSE(address);
  EXPECT_THAT(address.error().message, HasSubstr("discoveryAddress that is not text"));
}

TEST(PodProxyConfig, OverridesAreOnePerAddressWithTheirPodCountAndFirstPod) {
  const std::vector<Pod> pods{
      annotated_pod("shop", "cart-1", "discoveryAddress: istiod-canary.istio-system.svc:15012\n"),
      annotated_pod("shop", "cart-2", "discoveryAddress: istiod-canary.istio-system.svc:15012\n"),
      annotated_pod("shop", "cart-2", "discoveryAddress: istiod-canary.istio-system.svc:15012\n"),
      annotated_pod("web", "front-1", "discoveryAddress: 10.0.0.7:15012\n"),
      annotated_pod("web", "front-2", "holdApplicationUntilProxyStarts: true\n"),
      annotated_pod("web", "front-3", "discoveryAddress: [\n")};
  const auto overrides = pod_discovery_overrides(pods);
  ASSERT_EQ(overrides.size(), 2u);
  EXPECT_EQ(overrides[0].address, "10.0.0.7:15012");
  EXPECT_EQ(overrides[0].source, "annotation proxy.istio.io/config of 1 pod (web/front-1)");
  EXPECT_EQ(overrides[1].address, "istiod-canary.istio-system.svc:15012");
  EXPECT_EQ(overrides[1].source, "annotation proxy.istio.io/config of 2 pods (first: shop/cart-1)");
  EXPECT_TRUE(overrides[1].configured);
}

TEST(PodProxyConfig, AtMostEightOverridesAreKept) {
  std::vector<Pod> pods;
  for (int i = 0; i < 12; ++i) {
    pods.push_back(annotated_pod("ns", "p" + std::to_string(i),
                                 "discoveryAddress: x" + std::to_string(i) + ".ns.svc:15012\n"));
  }
  EXPECT_EQ(pod_discovery_overrides(pods).size(), kMaxPodDiscoveryOverrides);
}

}  // namespace
}  // namespace meshprobe::kube
