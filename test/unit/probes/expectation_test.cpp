// apply_expectation: how a negative test (`expect:`) judges a finished probe.
#include <gtest/gtest.h>

#include <string>

#include "probes/result.h"

namespace meshprobe {
namespace {

// A finished probe of tcp://192.0.2.2:15017 that ended in `diagnosis`.
ProbeResult finished(DiagnosisSet expect, Diagnosis diagnosis, std::optional<Phase> failed_phase,
                     std::string message = "what happened") {
  Target target;
  target.name = "must-stay-closed";
  target.url = "tcp://192.0.2.2:15017";
  target.expect = expect;
  ProbeResult result = result_for(target);
  result.address = "192.0.2.2";
  result.success = diagnosis == Diagnosis::ok;
  result.diagnosis = diagnosis;
  result.failed_phase = failed_phase;
  result.message = std::move(message);
  return result;
}

TEST(Expectation, ResultCarriesItsTargetsExpectation) {
  Target target;
  target.expect = kBlocked;
  EXPECT_EQ(result_for(target).expect, kBlocked);
}

TEST(Expectation, ExpectedBlockPassesAsOkAndKeepsWhatWasObserved) {
  ProbeResult r = finished(kBlocked, Diagnosis::tcp_timeout, Phase::connect, "no answer");
  apply_expectation(r);
  EXPECT_TRUE(r.success);
  EXPECT_EQ(r.diagnosis, Diagnosis::ok);
  EXPECT_EQ(r.observed, Diagnosis::tcp_timeout);
  EXPECT_EQ(r.message, "no answer");
}

TEST(Expectation, PathThatOpensIsUnexpectedlyReachable) {
  ProbeResult r = finished(kBlocked, Diagnosis::ok, std::nullopt);
  apply_expectation(r);
  EXPECT_FALSE(r.success);
  EXPECT_EQ(r.diagnosis, Diagnosis::unexpectedly_reachable);
  EXPECT_EQ(r.observed, Diagnosis::ok);
  EXPECT_EQ(r.failed_phase, Phase::connect);
  EXPECT_EQ(r.message,
            "the path the firewall must keep closed is open: connected to 192.0.2.2 "
            "(tcp://192.0.2.2:15017), every layer passed; expected tcp_timeout or tcp_refused or "
            "tcp_unreachable");
}

TEST(Expectation, BlockedPathWhoseTlsFailsWasStillReachable) {
  ProbeResult r = finished(kBlocked, Diagnosis::tls_protocol_error, Phase::tls, "garbage");
  apply_expectation(r);
  EXPECT_EQ(r.diagnosis, Diagnosis::unexpectedly_reachable);
  EXPECT_EQ(r.observed, Diagnosis::tls_protocol_error);
  EXPECT_EQ(r.failed_phase, Phase::tls);
  EXPECT_NE(r.message.find("then tls_protocol_error: garbage"), std::string::npos) << r.message;
}

TEST(Expectation, AnotherFailureThanExpectedStaysThatFailure) {
  ProbeResult r = finished(kBlocked, Diagnosis::dns_not_found, Phase::resolve, "NXDOMAIN");
  apply_expectation(r);
  EXPECT_FALSE(r.success);
  EXPECT_EQ(r.diagnosis, Diagnosis::dns_not_found);
  EXPECT_EQ(r.observed, Diagnosis::dns_not_found);
  EXPECT_EQ(r.message, "NXDOMAIN (expected tcp_timeout or tcp_refused or tcp_unreachable)");
}

TEST(Expectation, ExpectingALaterLayerFailureJudgesOtherLaterFailuresAsThemselves) {
  ProbeResult r = finished(DiagnosisSet{Diagnosis::tls_unknown_authority},
                           Diagnosis::tls_name_mismatch, Phase::tls);
  apply_expectation(r);
  EXPECT_EQ(r.diagnosis, Diagnosis::tls_name_mismatch);
  EXPECT_FALSE(r.success);
}

TEST(Expectation, WithoutAnExpectationNothingChanges) {
  ProbeResult r = finished({}, Diagnosis::tcp_timeout, Phase::connect, "no answer");
  apply_expectation(r);
  EXPECT_FALSE(r.success);
  EXPECT_EQ(r.diagnosis, Diagnosis::tcp_timeout);
  EXPECT_FALSE(r.observed);
  EXPECT_EQ(r.message, "no answer");
}

TEST(Expectation, IsAppliedOnlyOnce) {
  ProbeResult r = finished(kBlocked, Diagnosis::ok, std::nullopt);
  apply_expectation(r);
  const std::string message = r.message;
  apply_expectation(r);
  EXPECT_EQ(r.diagnosis, Diagnosis::unexpectedly_reachable);
  EXPECT_EQ(r.observed, Diagnosis::ok);
  EXPECT_EQ(r.message, message);
}

TEST(Expectation, CancelledProbeIsNotJudged) {
  ProbeResult r = finished(kBlocked, Diagnosis::tcp_timeout, Phase::connect);
  r.cancelled = true;
  apply_expectation(r);
  EXPECT_FALSE(r.success);
  EXPECT_FALSE(r.observed);
}

}  // namespace
}  // namespace meshprobe
