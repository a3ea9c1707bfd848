// `full_verify_interval`: how long a TLS target resumes its session before a
// full handshake verifies the served chain again; in `defaults` and per
// target, like `interval`, with 0s meaning every probe verifies in full.

#include <gmock/gmock.h>

#include "config_fixture.h"

namespace meshprobe::config_test {
namespace {

using namespace std::chrono_literals;
using testing::AllOf;
using testing::HasSubstr;
using testing::StartsWith;

TEST_F(ConfigTest, FullVerifyIntervalDefaultsToFiveMinutes) {
  const Config config = parsed(R"(
targets: [{url: "tls://istiod.istio-system.svc:15012"}]
)");
  EXPECT_EQ(config.default_full_verify_interval, 5min);
  EXPECT_EQ(config.targets[0].target->full_verify_interval, 5min);
}

TEST_F(ConfigTest, FullVerifyIntervalFromDefaultsAppliesToTargetsWithoutOne) {
  const Config config = parsed(R"(
defaults: {full_verify_interval: 1m}
targets:
  - url: tls://istiod.istio-system.svc:15012
  - url: https://istiod.istio-system.svc:15017/ready
    full_verify_interval: 30s
)");
  EXPECT_EQ(config.targets[0].target->full_verify_interval, 1min);
  EXPECT_EQ(config.targets[1].target->full_verify_interval, 30s);
}

TEST_F(ConfigTest, FullVerifyIntervalZeroMeansEveryProbeVerifiesInFull) {
  const Config config = parsed(R"(
defaults: {full_verify_interval: 0s}
targets:
  - url: grpc://istiod.istio-system.svc:15012
  - url: tls://istiod.istio-system.svc:15012
    full_verify_interval: "0"
)");
  EXPECT_EQ(config.targets[0].target->full_verify_interval, 0s);
  EXPECT_EQ(config.targets[1].target->full_verify_interval, 0s);
}

TEST_F(ConfigTest, RefusesABadFullVerifyIntervalNamingFileLineAndField) {
  EXPECT_THAT(refusal(R"(
targets:
  - url: tls://istiod.istio-system.svc:15012
    full_verify_interval: five minutes
)"),
              StartsWith(at_line(3) + "full_verify_interval: "));
}

TEST_F(ConfigTest, RefusesABadFullVerifyIntervalInDefaults) {
  EXPECT_THAT(refusal(R"(
defaults:
  full_verify_interval: -5m
targets: [{url: "tls://istiod.istio-system.svc:15012"}]
)"),
              StartsWith(at_line(2) + "full_verify_interval: "));
}

TEST_F(ConfigTest, RefusesFullVerifyIntervalOnATcpTarget) {
  EXPECT_THAT(refusal(R"(
targets:
  - url: tcp://istiod.istio-system.svc:15012
    full_verify_interval: 1m
)"),
              AllOf(StartsWith(at_line(3)),
                    HasSubstr("\"full_verify_interval\" applies only to tls, https and grpc")));
}

}  // namespace
}  // namespace meshprobe::config_test
