// The control plane's context for the webhook verdicts' remedies, from the
// API's own documents: the platform from one node's providerID, the API
// server's addresses from the default/kubernetes EndpointSlice.
#include "kube/control_plane.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "test_files.h"

namespace meshprobe::kube {
namespace {

using testing::ElementsAre;

TEST(ControlPlane, AGkeNodesProviderIdSaysGke) {
  auto nodes = parse_node_list(test::fixture("nodes-gke.json"));
  ASSERT_TRUE(nodes) << nodes.error().message;
  EXPECT_EQ(platform_of(nodes->items), Platform::gke);
}

TEST(ControlPlane, TheFirstNodeThatNamesAProviderDecides) {
  const std::vector<Node> nodes{{"kind-control-plane", ""},
                                {"ip-10-0-1-5", "aws:///us-east-1a/i-0abc123def4567890"}};
  EXPECT_EQ(platform_of(nodes), Platform::eks);
}

TEST(ControlPlane, NoNodesOrNoProviderIsUnknown) {
  EXPECT_EQ(platform_of({}), Platform::unknown);
  const std::vector<Node> kind{{"kind-worker", "kind://docker/kind/kind-worker"}};
  EXPECT_EQ(platform_of(kind), Platform::unknown);
}

TEST(ControlPlane, TheApiServersAddressesComeFromTheKubernetesSliceEachOnce) {
  auto slices = parse_endpoint_slice_list(test::fixture("endpointslices-kubernetes.json"));
  ASSERT_TRUE(slices) << slices.error().message;
  EXPECT_THAT(api_server_addresses(slices->items), ElementsAre("172.16.0.2", "172.16.0.3"));
}

TEST(ControlPlane, NoSlicesMeansNoAddresses) { EXPECT_TRUE(api_server_addresses({}).empty()); }

}  // namespace
}  // namespace meshprobe::kube
