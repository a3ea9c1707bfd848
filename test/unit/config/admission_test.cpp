// Admission targets in the config: `admission: inject|validate` and its
// canary `namespace`, the defaults of a request the API server runs its
// webhooks for, and the keys that cannot apply to it.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "config/config.h"
#include "config_fixture.h"

namespace meshprobe::config_test {
namespace {

using namespace std::chrono_literals;
using testing::AllOf;
using testing::HasSubstr;
using testing::StartsWith;

TEST_F(ConfigTest, AnInjectTargetIsADryRunPodInItsNamespaceThroughTheApiServer) {
  const Config config = parsed(R"(
targets:
  - name: injection-dry-run
    admission: inject
    namespace: mesh-canary
)");
  ASSERT_EQ(config.targets.size(), 1u);
  const TargetConfig& tc = config.targets[0];
  EXPECT_EQ(tc.admission, Admission::inject);
  EXPECT_EQ(tc.target->name, "injection-dry-run");
  EXPECT_EQ(tc.target->url, "admission://inject/mesh-canary");
  EXPECT_EQ(tc.target->host, "mesh-canary");
  EXPECT_EQ(tc.target->via, kAdmissionInjectVia);
  EXPECT_EQ(tc.target->vantage, "apiserver");
  EXPECT_TRUE(config.kubernetes.enabled);
}

TEST_F(ConfigTest, AnAdmissionTargetRunsOnceAMinuteWithTimeForTheWebhooksTimeout) {
  const Config config = parsed(R"(
defaults: {interval: 5s, timeout: 2s}
targets:
  - admission: validate
)");
  const TargetConfig& tc = config.targets[0];
  EXPECT_EQ(tc.admission, Admission::validate);
  EXPECT_EQ(tc.target->via, kAdmissionValidateVia);
  EXPECT_EQ(tc.interval, 60s);
  EXPECT_EQ(tc.target->timeout, 35s);
  EXPECT_EQ(tc.target->host, kDefaultCanaryNamespace);
  EXPECT_EQ(tc.target->name, "admission://validate/meshprobe-canary");
}

TEST_F(ConfigTest, AnAdmissionTargetTakesItsOwnIntervalAndTimeout) {
  const Config config = parsed(R"(
targets:
  - {admission: inject, interval: 2m, timeout: 20s, labels: {team: mesh}}
)");
  EXPECT_EQ(config.targets[0].interval, 120s);
  EXPECT_EQ(config.targets[0].target->timeout, 20s);
  EXPECT_EQ(config.targets[0].target->labels.at("team"), "mesh");
}

TEST_F(ConfigTest, AnAdmissionIntervalShorterThanTheDefaultTimeoutBoundsIt) {
  const Config config = parsed("targets: [{admission: inject, interval: 10s}]\n");
  EXPECT_EQ(config.targets[0].target->timeout, 10s);
}

TEST_F(ConfigTest, RefusesAnUnknownAdmissionMode) {
  EXPECT_THAT(refusal("targets:\n  - admission: mutate\n"),
              StartsWith(at_line(2) + "\"admission\" must be inject or validate, got \"mutate\""));
}

TEST_F(ConfigTest, RefusesAConnectionKeyOnAnAdmissionTarget) {
  EXPECT_THAT(refusal(R"(
targets:
  - admission: inject
    url: https://istiod.istio-system.svc:443/inject
)"),
              StartsWith(at_line(3) + "\"url\" does not apply to an admission target"));
}

TEST_F(ConfigTest, RefusesAnExpectationOnAnAdmissionTarget) {
  EXPECT_THAT(refusal("targets:\n  - admission: validate\n    expect: blocked\n"),
              StartsWith(at_line(3) + "\"expect\" does not apply to an admission target"));
}

TEST_F(ConfigTest, RefusesANamespaceThatIsNotAKubernetesName) {
  EXPECT_THAT(refusal("targets:\n  - {admission: inject, namespace: Mesh_Canary}\n"),
              AllOf(StartsWith(at_line(2) + "invalid namespace \"Mesh_Canary\""),
                    HasSubstr("lowercase letters")));
}

TEST_F(ConfigTest, RefusesANamespaceOnAnOrdinaryTarget) {
  EXPECT_THAT(refusal("targets:\n  - url: tcp://a.example:1\n    namespace: x\n"),
              StartsWith(at_line(3) + "\"namespace\" applies only to admission targets"));
}

}  // namespace
}  // namespace meshprobe::config_test
