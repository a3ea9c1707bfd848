// Cheap re-probes with bounded staleness: a TLS target resumes its session
// between full verifications of the served chain, and a full handshake
// re-verifies it at least every full_verify_interval and after any failure.
// One Prober per test, as the agent keeps one across rounds.

#include <boost/asio/io_context.hpp>
#include <gtest/gtest.h>
#include <openssl/ssl.h>

#include <chrono>
#include <thread>

#include "probe_harness.h"
#include "probes/prober.h"

namespace meshprobe::test {
namespace {

using namespace std::chrono_literals;

class TlsResumption : public ProbeTest {
 protected:
  // One probe on the test's Prober, run to its completion.
  ProbeResult probe(const std::shared_ptr<Target>& target) {
    std::vector<ProbeResult> results;
    int completions = 0;
    prober_.probe(target, [&](std::vector<ProbeResult> delivered) {
      results = std::move(delivered);
      ++completions;
    });
    io_.restart();
    io_.run_for(target->timeout + 5s);
    EXPECT_EQ(completions, 1);
    EXPECT_EQ(results.size(), 1u);
    return results.empty() ? ProbeResult{} : results.front();
  }

  // A probe and its re-probe: what resumption changes is the second.
  std::pair<ProbeResult, ProbeResult> two_probes(const std::shared_ptr<Target>& target) {
    ProbeResult first = probe(target);
    return {std::move(first), probe(target)};
  }

  static std::shared_ptr<Target> resuming(std::shared_ptr<Target> target,
                                          std::chrono::milliseconds full_verify_interval = 5min) {
    target->full_verify_interval = full_verify_interval;
    return target;
  }

  static std::string_view handshake(const ProbeResult& result) {
    return result.tls ? handshake_name(result.tls->handshake) : "none";
  }

  // The webhook Service's names on a leaf of a CA the targets do not trust.
  static const TestCert& untrusted_leaf() {
    static const TestCert leaf =
        TestCa::create("not the mesh root")
            .issue(LeafSpec{
                .common_name = "", .sans = {std::string(kIstiodServiceName)}, .validity = {}});
    return leaf;
  }

  boost::asio::io_context io_;
  Prober prober_{io_};
};

TEST_F(TlsResumption, SecondProbeResumesTheTls13Session) {
  TlsTestServer server(serving(ServerMode::tls_http, istiod_leaf()));
  auto target = resuming(loopback_target("tls", server.port()));

  auto [first, second] = two_probes(target);

  ASSERT_TRUE(first.success) << describe(first);
  ASSERT_TRUE(second.success) << describe(second);
  EXPECT_EQ(handshake(first), "full");
  EXPECT_EQ(handshake(second), "resumed");
  EXPECT_EQ(second.tls->version, "TLSv1.3");
  EXPECT_TRUE(second.tls->verified);
  EXPECT_GT(second.tls->verified_age, Duration::zero());
  ASSERT_EQ(second.tls->chain.size(), first.tls->chain.size());
  EXPECT_EQ(second.tls->chain.front().sha256, first.tls->chain.front().sha256);
}

TEST_F(TlsResumption, SecondProbeResumesTheTls12Session) {
  ServerOptions options = serving(ServerMode::tls_http, istiod_leaf());
  options.max_tls_version = TLS1_2_VERSION;
  TlsTestServer server(options);
  auto target = resuming(loopback_target("tls", server.port()));

  auto [first, second] = two_probes(target);

  ASSERT_TRUE(first.success) << describe(first);
  ASSERT_TRUE(second.success) << describe(second);
  EXPECT_EQ(handshake(first), "full");
  EXPECT_EQ(handshake(second), "resumed");
  EXPECT_EQ(second.tls->version, "TLSv1.2");
}

TEST_F(TlsResumption, HttpsProbeResumesWithTheTicketReadDuringItsExchange) {
  TlsTestServer server(serving(ServerMode::tls_http, istiod_leaf()));
  auto target = resuming(loopback_target("https", server.port(), "/ready"));

  auto [first, second] = two_probes(target);

  ASSERT_TRUE(second.success) << describe(second);
  EXPECT_EQ(handshake(first), "full");
  EXPECT_EQ(handshake(second), "resumed");
  EXPECT_EQ(second.http_status, 200);
}

TEST_F(TlsResumption, FullVerifyIntervalZeroVerifiesEveryProbeInFull) {
  TlsTestServer server(serving(ServerMode::tls_http, istiod_leaf()));
  auto target = resuming(loopback_target("tls", server.port()), 0s);

  auto [first, second] = two_probes(target);

  ASSERT_TRUE(second.success) << describe(second);
  EXPECT_EQ(handshake(first), "full");
  EXPECT_EQ(handshake(second), "full");
}

TEST_F(TlsResumption, UntrustedCertificatePassesResumedOnlyUntilTheFullVerificationIsDue) {
  TlsTestServer server(serving(ServerMode::tls_http, istiod_leaf()));
  auto target = resuming(loopback_target("tls", server.port()), 1500ms);

  const auto verified = std::chrono::steady_clock::now();
  ProbeResult first = probe(target);
  server.serve_certificate(untrusted_leaf().cert_pem, untrusted_leaf().key_pem);
  // The server still accepts the ticket it granted: within the interval the
  // probe proves the session key, not the chain it would serve now.
  ProbeResult resumed = probe(target);
  std::this_thread::sleep_until(verified + 1600ms);
  ProbeResult due = probe(target);

  ASSERT_TRUE(first.success) << describe(first);
  EXPECT_TRUE(resumed.success) << describe(resumed);
  EXPECT_EQ(handshake(resumed), "resumed");
  EXPECT_FALSE(due.success);
  EXPECT_EQ(code(due.diagnosis), "tls_unknown_authority") << describe(due);
  EXPECT_EQ(handshake(due), "full");
}

TEST_F(TlsResumption, ResumedProbesDoNotPostponeTheNextFullVerification) {
  TlsTestServer server(serving(ServerMode::tls_http, istiod_leaf()));
  auto target = resuming(loopback_target("tls", server.port()), 1000ms);

  const auto verified = std::chrono::steady_clock::now();
  ProbeResult first = probe(target);
  std::this_thread::sleep_until(verified + 400ms);
  ProbeResult resumed_early = probe(target);
  std::this_thread::sleep_until(verified + 800ms);
  ProbeResult resumed_late = probe(target);
  std::this_thread::sleep_until(verified + 1100ms);
  ProbeResult due = probe(target);

  EXPECT_EQ(handshake(first), "full");
  EXPECT_EQ(handshake(resumed_early), "resumed");
  EXPECT_EQ(handshake(resumed_late), "resumed");
  ASSERT_TRUE(due.success) << describe(due);
  EXPECT_EQ(handshake(due), "full");
  EXPECT_GE(resumed_late.tls->verified_age, 800ms);
}

TEST_F(TlsResumption, FailedProbeDropsTheSessionSoTheNextOneIsFull) {
  TlsTestServer server(serving(ServerMode::tls_http, istiod_leaf()));
  auto target = resuming(loopback_target("https", server.port(), "/ready"));
  ProbeResult first = probe(target);
  target->expected_status = 204;  // the server answers 200: this probe fails

  ProbeResult failed = probe(target);
  target->expected_status = 200;
  ProbeResult after = probe(target);

  ASSERT_TRUE(first.success) << describe(first);
  EXPECT_EQ(code(failed.diagnosis), "http_unexpected_status") << describe(failed);
  ASSERT_TRUE(after.success) << describe(after);
  EXPECT_EQ(handshake(after), "full");
}

TEST_F(TlsResumption, RefusedResumptionFallsBackToAFullVerifiedHandshake) {
  TlsTestServer server(serving(ServerMode::tls_http, istiod_leaf()));
  auto target = resuming(loopback_target("tls", server.port()));
  ProbeResult first = probe(target);
  server.serve_certificate(untrusted_leaf().cert_pem, untrusted_leaf().key_pem);
  server.forget_sessions();

  ProbeResult refused = probe(target);

  ASSERT_TRUE(first.success) << describe(first);
  EXPECT_FALSE(refused.success);
  EXPECT_EQ(code(refused.diagnosis), "tls_unknown_authority") << describe(refused);
  EXPECT_EQ(handshake(refused), "full");
}

TEST_F(TlsResumption, ServerWithoutTicketsOrCacheGetsFullVerifiedHandshakes) {
  ServerOptions options = serving(ServerMode::tls_http, istiod_leaf());
  options.session_resumption = false;
  TlsTestServer server(options);
  auto target = resuming(loopback_target("tls", server.port()));

  auto [first, second] = two_probes(target);

  ASSERT_TRUE(second.success) << describe(second);
  EXPECT_EQ(handshake(first), "full");
  EXPECT_EQ(handshake(second), "full");
  EXPECT_TRUE(second.tls->verified);
}

TEST_F(TlsResumption, TargetsDoNotShareSessions) {
  TlsTestServer server(serving(ServerMode::tls_http, istiod_leaf()));
  auto one = resuming(loopback_target("tls", server.port()));
  auto other = resuming(loopback_target("tls", server.port()));
  other->name = "another target";

  probe(one);
  ProbeResult first_of_other = probe(other);

  ASSERT_TRUE(first_of_other.success) << describe(first_of_other);
  EXPECT_EQ(handshake(first_of_other), "full");
}

TEST_F(TlsResumption, ForgettingSessionsMakesTheNextProbeFull) {
  TlsTestServer server(serving(ServerMode::tls_http, istiod_leaf()));
  auto target = resuming(loopback_target("tls", server.port()));
  probe(target);

  prober_.forget_tls_sessions();
  ProbeResult after_reload = probe(target);

  ASSERT_TRUE(after_reload.success) << describe(after_reload);
  EXPECT_EQ(handshake(after_reload), "full");
}

}  // namespace
}  // namespace meshprobe::test
