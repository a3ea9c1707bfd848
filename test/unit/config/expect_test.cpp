// A target's `expect:` (negative tests): the forms that load, what each
// means, and every refusal naming file, line and field.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "config/config.h"
#include "config_fixture.h"

namespace meshprobe::config_test {
namespace {

using testing::HasSubstr;
using testing::StartsWith;

const Target& first_target(const Config& config) { return *config.targets.front().target; }

// ---- accepted --------------------------------------------------------------

TEST_F(ConfigTest, TargetWithoutExpectMustPassEveryLayer) {
  const Config config = parsed("targets: [{url: \"tcp://a.example:1\"}]\n");
  EXPECT_TRUE(first_target(config).expect.empty());
}

TEST_F(ConfigTest, ExpectBlockedIsAnyWayTheConnectionIsRefused) {
  const Config config = parsed(R"(
targets:
  - url: tcp://10.0.0.10:22
    expect: blocked
)");
  EXPECT_EQ(first_target(config).expect, kBlocked);
  EXPECT_TRUE(kBlocked.contains(Diagnosis::tcp_timeout));
  EXPECT_TRUE(kBlocked.contains(Diagnosis::tcp_refused));
  EXPECT_TRUE(kBlocked.contains(Diagnosis::tcp_unreachable));
  EXPECT_FALSE(kBlocked.contains(Diagnosis::dns_not_found));
}

TEST_F(ConfigTest, ExpectDiagnosisListsExactlyTheCodesWritten) {
  const Config config = parsed(R"(
targets:
  - url: https://istiod.istio-system.svc:15017/ready
    expect:
      diagnosis: [tcp_timeout, tls_unknown_authority]
)");
  EXPECT_EQ(first_target(config).expect,
            (DiagnosisSet{Diagnosis::tcp_timeout, Diagnosis::tls_unknown_authority}));
}

TEST_F(ConfigTest, ExpectAppliesToEveryProbeKind) {
  const Config config = parsed(R"(
targets:
  - url: grpc://istiod.istio-system.svc:15012
    expect: blocked
  - url: tls://istiod.istio-system.svc:15017
    expect: blocked
)");
  EXPECT_EQ(config.targets[0].target->expect, kBlocked);
  EXPECT_EQ(config.targets[1].target->expect, kBlocked);
}

// ---- refused ---------------------------------------------------------------

TEST_F(ConfigTest, RefusesAnExpectFormOtherThanBlocked) {
  EXPECT_EQ(refusal(R"(
targets:
  - url: tcp://a.example:1
    expect: closed
)"),
            at_line(3) + "\"expect\" must be blocked or {diagnosis: [CODE, ...]}, got \"closed\"");
}

TEST_F(ConfigTest, RefusesAnExpectList) {
  EXPECT_THAT(refusal(R"(
targets:
  - url: tcp://a.example:1
    expect: [tcp_timeout]
)"),
              StartsWith(at_line(3) + "\"expect\" must be blocked or {diagnosis: [CODE, ...]}"));
}

TEST_F(ConfigTest, RefusesAnUnknownDiagnosisCodeAtItsLine) {
  const std::string message = refusal(R"(
targets:
  - url: tcp://a.example:1
    expect:
      diagnosis:
        - tcp_timeout
        - tcp_timout
)");
  EXPECT_THAT(message, StartsWith(at_line(6) + "\"expect.diagnosis\": unknown diagnosis code "
                                               "\"tcp_timout\" (the catalogue's failures: "));
  EXPECT_THAT(message, HasSubstr("tcp_refused"));
}

TEST_F(ConfigTest, RefusesOkAsAnExpectedDiagnosis) {
  EXPECT_THAT(refusal(R"(
targets:
  - url: tcp://a.example:1
    expect: {diagnosis: [ok]}
)"),
              StartsWith(at_line(3) + "\"expect.diagnosis\": ok is what a target without"));
}

TEST_F(ConfigTest, RefusesUnexpectedlyReachableAsAnExpectedDiagnosis) {
  EXPECT_THAT(
      refusal(R"(
targets:
  - url: tcp://a.example:1
    expect: {diagnosis: [unexpectedly_reachable]}
)"),
      StartsWith(at_line(3) + "\"expect.diagnosis\": unexpectedly_reachable is the verdict"));
}

TEST_F(ConfigTest, RefusesAnEmptyExpectDiagnosisList) {
  EXPECT_THAT(refusal(R"(
targets:
  - url: tcp://a.example:1
    expect:
      diagnosis: []
)"),
              StartsWith(at_line(4) + "\"expect.diagnosis\" must be a non-empty list"));
}

TEST_F(ConfigTest, RefusesAnExpectMapWithoutDiagnosis) {
  EXPECT_THAT(refusal(R"(
targets:
  - url: tcp://a.example:1
    expect: {}
)"),
              StartsWith(at_line(3) + "\"expect\" must be blocked or {diagnosis: [CODE, ...]}: "
                                      "the map has no \"diagnosis\""));
}

TEST_F(ConfigTest, RefusesAnUnknownKeyInExpect) {
  EXPECT_THAT(refusal(R"(
targets:
  - url: tcp://a.example:1
    expect:
      diagnosis: [tcp_timeout]
      negate: true
)"),
              StartsWith(at_line(5) + "unknown key \"negate\" in \"expect\""));
}

TEST_F(ConfigTest, RefusesExpectInDefaultsNamingWhereItBelongs) {
  EXPECT_EQ(refusal(R"(
defaults:
  interval: 10s
  expect: blocked
targets: [{url: "tcp://a.example:1"}]
)"),
            at_line(3) +
                "\"expect\" belongs on each target that must stay blocked, not in \"defaults\": "
                "a default would make every target a negative test");
}

}  // namespace
}  // namespace meshprobe::config_test
