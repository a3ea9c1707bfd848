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

}  // namespace
}  // namespace meshprobe::kube
