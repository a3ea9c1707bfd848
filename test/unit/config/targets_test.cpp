// `targets` and the `defaults` they fall back on: intervals and timeouts,
// URLs, names, per-kind settings and labels, and each refusal with its line.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "config/config.h"
#include "config_fixture.h"

namespace meshprobe::config_test {
namespace {

using namespace std::chrono_literals;
using testing::StartsWith;

// ---- loaded ----------------------------------------------------------------

TEST_F(ConfigTest, AppliesTheDefaultsSectionToTargetsWithoutOverrides) {
  const Config config = parsed(R"(
defaults: {interval: 1m, timeout: 10s, expiry_warning_days: 21}
targets:
  - url: tls://a.example:443
)");
  const TargetConfig& target = config.targets.at(0);
  EXPECT_EQ(target.interval, 1min);
  EXPECT_EQ(target.target->timeout, 10s);
  EXPECT_EQ(target.target->expiry_warning_days, 21);
}

TEST_F(ConfigTest, LetsATargetOverrideTheDefaults) {
  const Config config = parsed(R"(
defaults: {interval: 1m, timeout: 10s, expiry_warning_days: 21}
targets:
  - url: tls://a.example:443
    interval: 1s500ms
    timeout: 750ms
    expiry_warning_days: 0
  - url: tls://b.example:443
)");
  const TargetConfig& overridden = config.targets.at(0);
  EXPECT_EQ(overridden.interval, 1500ms);
  EXPECT_EQ(overridden.target->timeout, 750ms);
  EXPECT_EQ(overridden.target->expiry_warning_days, 0);
  const TargetConfig& plain = config.targets.at(1);
  EXPECT_EQ(plain.interval, 1min);
  EXPECT_EQ(plain.target->timeout, 10s);
}

// ---- refused: no targets ----------------------------------------------------

TEST_F(ConfigTest, RefusesAConfigWithoutTargets) {
  EXPECT_THAT(refusal("vantage: node\n"), StartsWith(at_line(1) + "no targets"));
}

TEST_F(ConfigTest, RefusesAnEmptyTargetsList) {
  EXPECT_EQ(refusal("vantage: node\ntargets: []\n"),
            at_line(2) + "no targets: \"targets\" is empty");
}

TEST_F(ConfigTest, RefusesTargetsWithoutAValue) {
  EXPECT_EQ(refusal("targets:\nvantage: node\n"), at_line(1) + "no targets: \"targets\" is empty");
}

// ---- refused: keys ---------------------------------------------------------

TEST_F(ConfigTest, RefusesAnUnknownTargetKeyNamingTheKnownOnes) {
  EXPECT_EQ(refusal(R"(
targets:
  - url: tcp://a.example:1
    intervall: 5s
)"),
            at_line(3) +
                "unknown key \"intervall\" in target; known keys: name, url, ca, "
                "server_name, interval, timeout, expected_status, "
                "expiry_warning_days, full_verify_interval, labels, discover, via, "
                "grpc_method, "
                "grpc_expect_serving, expect, admission, namespace");
}

TEST_F(ConfigTest, RefusesAnUnknownKeyInDefaults) {
  EXPECT_THAT(refusal(R"(
defaults:
  interval: 10s
  retries: 3
targets: [{url: "tcp://a.example:1"}]
)"),
              StartsWith(at_line(3) + "unknown key \"retries\" in \"defaults\""));
}

TEST_F(ConfigTest, RefusesADuplicateKeyInATarget) {
  EXPECT_EQ(refusal(R"(
targets:
  - url: tcp://a.example:1
    interval: 5s
    interval: 6s
)"),
            at_line(4) + "duplicate key \"interval\" in target (first at line 3)");
}

// ---- refused: types --------------------------------------------------------

TEST_F(ConfigTest, RefusesAListWhereAMapIsExpected) {
  EXPECT_EQ(refusal(R"(
defaults:
  - interval: 5s
targets: [{url: "tcp://a.example:1"}]
)"),
            at_line(2) + "\"defaults\" must be a map, got a list");
}

TEST_F(ConfigTest, RefusesAMapWhereAStringIsExpected) {
  EXPECT_EQ(refusal(R"(
targets:
  - url: {host: a.example}
)"),
            at_line(2) + "\"url\" must be a string, got a map");
}

TEST_F(ConfigTest, RefusesAKeyWithoutAValue) {
  EXPECT_EQ(refusal(R"(
targets:
  - url: tcp://a.example:1
    timeout:
)"),
            at_line(3) + "\"timeout\" must be a duration like 10s, got nothing");
}

TEST_F(ConfigTest, RefusesATargetThatIsNotAMap) {
  EXPECT_EQ(refusal(R"(
targets:
  - tcp://a.example:1
)"),
            at_line(2) +
                "each item of \"targets\" must be a map with at least \"url\", got "
                "\"tcp://a.example:1\"");
}

TEST_F(ConfigTest, RefusesTargetsThatAreNotAList) {
  EXPECT_EQ(refusal("targets: {url: tcp://a.example:1}\n"),
            at_line(1) + "\"targets\" must be a list, got a map");
}

// ---- refused: durations ----------------------------------------------------

TEST_F(ConfigTest, RefusesABadDurationWithParseDurationsMessage) {
  EXPECT_EQ(refusal(R"(
targets:
  - url: tcp://a.example:1
    interval: 10x
)"),
            at_line(3) +
                "interval: invalid duration \"10x\": unknown unit \"x\" "
                "(use ms, s, m, h)");
}

TEST_F(ConfigTest, RefusesADurationWithoutAUnit) {
  EXPECT_THAT(refusal(R"(
defaults:
  timeout: 3
targets: [{url: "tcp://a.example:1"}]
)"),
              StartsWith(at_line(2) + "timeout: invalid duration \"3\": missing unit"));
}

TEST_F(ConfigTest, RefusesAZeroDuration) {
  EXPECT_EQ(refusal(R"(
defaults:
  interval: 0s
targets: [{url: "tcp://a.example:1"}]
)"),
            at_line(2) + "\"interval\" must be greater than 0");
}

TEST_F(ConfigTest, RefusesANegativeDuration) {
  EXPECT_EQ(refusal(R"(
targets:
  - url: tcp://a.example:1
    timeout: -1s
)"),
            at_line(3) + "timeout: invalid duration \"-1s\": must not be negative");
}

TEST_F(ConfigTest, RefusesATargetTimeoutLongerThanItsInterval) {
  EXPECT_EQ(refusal(R"(
targets:
  - name: slow
    url: tcp://a.example:1
    interval: 2s
    timeout: 5s
)"),
            at_line(5) +
                "target \"slow\": timeout 5s is longer than its interval 2s; a probe "
                "must finish before the next one is due");
}

TEST_F(ConfigTest, RefusesATargetIntervalShorterThanTheDefaultTimeout) {
  EXPECT_THAT(refusal(R"(
targets:
  - name: fast
    url: tcp://a.example:1
    interval: 1s
)"),
              StartsWith(at_line(4) + "target \"fast\": timeout 3s is longer than its "
                                      "interval 1s"));
}

TEST_F(ConfigTest, RefusesADefaultTimeoutLongerThanTheDefaultInterval) {
  EXPECT_THAT(refusal(R"(
defaults:
  interval: 5s
  timeout: 6s
targets: [{url: "tcp://a.example:1"}]
)"),
              StartsWith(at_line(3) + "default timeout 6s is longer than the default "
                                      "interval 5s"));
}

// ---- refused: values -------------------------------------------------------

TEST_F(ConfigTest, RefusesABadUrlWithParseTargetUrlsMessage) {
  EXPECT_EQ(refusal(R"(
targets:
  - name: broken
    url: ftp://a.example:21
)"),
            at_line(3) +
                "invalid target URL \"ftp://a.example:21\": unknown scheme "
                "\"ftp\" (use tcp, tls, https or grpc)");
}

TEST_F(ConfigTest, RefusesATargetWithoutAUrl) {
  EXPECT_EQ(refusal(R"(
targets:
  - url: tcp://a.example:1
  - name: nameless
)"),
            at_line(3) + "target has no \"url\"");
}

TEST_F(ConfigTest, RefusesAnInvalidTargetName) {
  EXPECT_THAT(refusal(R"(
targets:
  - name: "istiod webhook"
    url: tcp://a.example:1
)"),
              StartsWith(at_line(2) + "invalid target name \"istiod webhook\""));
}

TEST_F(ConfigTest, RefusesATooLongTargetName) {
  EXPECT_THAT(
      refusal("targets:\n  - name: " + std::string(129, 'a') + "\n    url: tcp://a.example:1\n"),
      StartsWith(at_line(2) + "invalid target name"));
}

TEST_F(ConfigTest, RefusesAnExpectedStatusOutOfRange) {
  EXPECT_EQ(refusal(R"(
targets:
  - url: https://a.example/ready
    expected_status: 600
)"),
            at_line(3) +
                "\"expected_status\" must be a whole number from 100 to 599, "
                "got \"600\"");
}

TEST_F(ConfigTest, RefusesAnExpectedStatusOnANonHttpsTarget) {
  EXPECT_EQ(refusal(R"(
targets:
  - url: grpc://a.example:15012
    expected_status: 200
)"),
            at_line(3) +
                "\"expected_status\" applies only to https targets, and "
                "\"grpc://a.example:15012\" is grpc");
}

TEST_F(ConfigTest, GrpcTargetsCallTheHealthCheckUnlessTheyNameAMethod) {
  const Config config = parsed(R"(
targets:
  - url: grpc://a.example:15012
  - url: grpc://b.example:15012
    grpc_method: /envoy.service.discovery.v3.AggregatedDiscoveryService/StreamAggregatedResources
  - url: grpc://c.example:15012
    grpc_expect_serving: true
)");
  EXPECT_EQ(config.targets.at(0).target->grpc_method, "/grpc.health.v1.Health/Check");
  EXPECT_FALSE(config.targets.at(0).target->grpc_expect_serving);
  EXPECT_EQ(config.targets.at(1).target->grpc_method,
            "/envoy.service.discovery.v3.AggregatedDiscoveryService/StreamAggregatedResources");
  EXPECT_TRUE(config.targets.at(2).target->grpc_expect_serving);
}

TEST_F(ConfigTest, RefusesAGrpcMethodThatIsNotServiceSlashMethod) {
  EXPECT_EQ(refusal(R"(
targets:
  - url: grpc://a.example:15012
    grpc_method: grpc.health.v1.Health/Check
)"),
            at_line(3) +
                "\"grpc_method\" \"grpc.health.v1.Health/Check\": expected a gRPC method path "
                "/SERVICE/METHOD, e.g. /grpc.health.v1.Health/Check");
  EXPECT_THAT(refusal("targets:\n  - url: grpc://a.example:15012\n    grpc_method: /a/b/c\n"),
              StartsWith(at_line(3) + "\"grpc_method\" \"/a/b/c\": expected"));
}

TEST_F(ConfigTest, RefusesGrpcExpectServingWithAnotherMethod) {
  EXPECT_EQ(refusal(R"(
targets:
  - url: grpc://a.example:15012
    grpc_method: /pkg.Svc/Call
    grpc_expect_serving: true
)"),
            at_line(4) +
                "\"grpc_expect_serving\" needs the health check's method "
                "/grpc.health.v1.Health/Check, and \"grpc_method\" is \"/pkg.Svc/Call\"");
}

TEST_F(ConfigTest, RefusesGrpcKeysOnANonGrpcTarget) {
  EXPECT_EQ(refusal(R"(
targets:
  - url: https://a.example/ready
    grpc_method: /pkg.Svc/Call
)"),
            at_line(3) +
                "\"grpc_method\" applies only to grpc targets, and "
                "\"https://a.example/ready\" is https");
}

TEST_F(ConfigTest, RefusesTlsSettingsOnATcpTarget) {
  EXPECT_EQ(refusal(R"(
targets:
  - url: tcp://a.example:1
    server_name: a.example
)"),
            at_line(3) +
                "\"server_name\" applies only to tls, https and grpc targets, "
                "and \"tcp://a.example:1\" is tcp");
}

TEST_F(ConfigTest, RefusesAnExpiryWarningOutOfRange) {
  EXPECT_THAT(refusal(R"(
defaults: {expiry_warning_days: -1}
targets: [{url: "tcp://a.example:1"}]
)"),
              StartsWith(at_line(1) + "\"expiry_warning_days\" must be a whole number "
                                      "from 0 to 3650"));
}

TEST_F(ConfigTest, RefusesDuplicateTargetNames) {
  EXPECT_EQ(refusal(R"(
targets:
  - name: istiod
    url: tcp://a.example:1
  - name: istiod
    url: tcp://b.example:1
)"),
            at_line(4) +
                "duplicate target name \"istiod\" (first at line 2); give each "
                "target a distinct \"name\"");
}

TEST_F(ConfigTest, RefusesTwoUnnamedTargetsWithTheSameUrl) {
  EXPECT_THAT(refusal(R"(
targets:
  - url: tcp://a.example:1
  - url: tcp://a.example:1
)"),
              StartsWith(at_line(3) + "duplicate target name \"tcp://a.example:1\""));
}

// ---- refused: labels -------------------------------------------------------

TEST_F(ConfigTest, RefusesMoreThanEightLabels) {
  EXPECT_EQ(refusal(R"(
targets:
  - url: tcp://a.example:1
    labels: {a: "1", b: "2", c: "3", d: "4", e: "5", f: "6", g: "7", h: "8", i: "9"}
)"),
            at_line(3) + "at most 8 labels per target, got 9");
}

TEST_F(ConfigTest, RefusesAnInvalidLabelName) {
  EXPECT_THAT(refusal(R"(
targets:
  - url: tcp://a.example:1
    labels:
      team-name: mesh
)"),
              StartsWith(at_line(4) + "invalid label name \"team-name\""));
}

TEST_F(ConfigTest, RefusesALabelNameMeshprobeSetsItself) {
  EXPECT_THAT(refusal(R"(
targets:
  - url: tcp://a.example:1
    labels: {vantage: mine}
)"),
              StartsWith(at_line(3) + "label \"vantage\" is reserved"));
}

TEST_F(ConfigTest, RefusesALabelValueThatIsNotAString) {
  EXPECT_EQ(refusal(R"(
targets:
  - url: tcp://a.example:1
    labels:
      team: [mesh]
)"),
            at_line(4) + "\"team\" must be a string, got a list");
}

}  // namespace
}  // namespace meshprobe::config_test
