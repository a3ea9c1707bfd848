// Every config shipped in config/examples loads, with what it is for.
#include <gtest/gtest.h>

#include "config/config.h"
#include "config_fixture.h"

namespace meshprobe::config_test {
namespace {

TEST_F(ConfigTest, LoadsTheDaemonSetExample) {
  const Config config = example("daemonset.yaml");
  EXPECT_EQ(config.vantage, "node");
  EXPECT_EQ(config.listen, (ListenAddress{"0.0.0.0", 9717}));
  ASSERT_EQ(config.targets.size(), 3u);
  EXPECT_EQ(config.targets[0].target->name, "istiod-webhook");
  EXPECT_EQ(config.targets[0].target->port, 15017);
  EXPECT_EQ(config.targets[1].target->port, 443);
  EXPECT_EQ(config.targets[2].target->kind, ProbeKind::grpc);
  for (const TargetConfig& target : config.targets) {
    EXPECT_EQ(target.target->ca, config.ca_bundles.at(0).bundle) << target.target->name;
  }
}

TEST_F(ConfigTest, LoadsTheControlPlaneExample) {
  const Config config = example("control-plane.yaml");
  EXPECT_EQ(config.vantage, "control-plane");
  ASSERT_FALSE(config.targets.empty());
  for (const TargetConfig& target : config.targets) {
    EXPECT_EQ(target.target->port, 15017) << target.target->name;
    EXPECT_EQ(target.target->server_name, "istiod.istio-system.svc") << target.target->name;
  }
}

TEST_F(ConfigTest, LoadsTheDemoExample) {
  const Config config = example("demo.yaml");
  EXPECT_EQ(config.listen, (ListenAddress{"127.0.0.1", 9717}));
  EXPECT_EQ(config.targets.size(), 4u);
}

TEST_F(ConfigTest, LoadsTheKubernetesExample) {
  const Config config = example("kubernetes.yaml");
  EXPECT_TRUE(config.kubernetes.enabled);
  EXPECT_TRUE(config.kubernetes.kubeconfig.empty());  // in-cluster
  ASSERT_FALSE(config.targets.empty());
  bool discovers = false;
  bool via_apiserver = false;
  for (const TargetConfig& target : config.targets) {
    discovers = discovers || target.discover != Discovery::none;
    via_apiserver = via_apiserver || target.via == Via::apiserver;
  }
  EXPECT_TRUE(discovers);
  EXPECT_TRUE(via_apiserver);
}

}  // namespace
}  // namespace meshprobe::config_test
