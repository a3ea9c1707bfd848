// The handshake and the verdict on the served certificate: each way the
// seed's x509 errors and stalled handshakes show up.

#include <gtest/gtest.h>

#include <algorithm>

#include "probe_harness.h"

namespace meshprobe::test {
namespace {

using namespace std::chrono_literals;

class TlsProbe : public ProbeTest {};

bool contains(const std::vector<std::string>& values, const std::string& wanted) {
  return std::find(values.begin(), values.end(), wanted) != values.end();
}

TEST_F(TlsProbe, UnknownCaIsTlsUnknownAuthority) {
  TlsTestServer server(serving(ServerMode::tls_http, istiod_leaf()));
  TestCa stale_ca = TestCa::create("stale caBundle root");

  ProbeResult result =
      probe_single(loopback_target("https", server.port(), "/ready", stale_ca.cert_pem));

  EXPECT_FALSE(result.success);
  EXPECT_EQ(code(result.diagnosis), "tls_unknown_authority") << describe(result);
  EXPECT_EQ(failed_phase(result), "tls");
  EXPECT_EQ(result.address, "127.0.0.1");
}

TEST_F(TlsProbe, WrongSanIsTlsNameMismatch) {
  TestCert other_revision = test_ca().issue(
      LeafSpec{.common_name = "", .sans = {"istiod-old.istio-system.svc"}, .validity = {}});
  TlsTestServer server(serving(ServerMode::tls_http, other_revision));

  ProbeResult result = probe_single(loopback_target("https", server.port(), "/ready"));

  EXPECT_FALSE(result.success);
  EXPECT_EQ(code(result.diagnosis), "tls_name_mismatch") << describe(result);
  EXPECT_EQ(failed_phase(result), "tls");
}

TEST_F(TlsProbe, ExpiredCertificateIsTlsExpired) {
  TlsTestServer server(serving(ServerMode::tls_http, istiod_leaf(Validity{-48h, -1h})));

  ProbeResult result = probe_single(loopback_target("https", server.port(), "/ready"));

  EXPECT_FALSE(result.success);
  EXPECT_EQ(code(result.diagnosis), "tls_expired") << describe(result);
  EXPECT_EQ(failed_phase(result), "tls");
}

TEST_F(TlsProbe, NotYetValidCertificateIsTlsNotYetValid) {
  TlsTestServer server(serving(ServerMode::tls_http, istiod_leaf(Validity{24h, 30 * 24h})));

  ProbeResult result = probe_single(loopback_target("https", server.port(), "/ready"));

  EXPECT_FALSE(result.success);
  EXPECT_EQ(code(result.diagnosis), "tls_not_yet_valid") << describe(result);
  EXPECT_EQ(failed_phase(result), "tls");
}

TEST_F(TlsProbe, SilentListenerIsTlsTimeout) {
  TlsTestServer server(ServerOptions{.mode = ServerMode::tcp_silent});
  auto target = loopback_target("https", server.port(), "/ready");
  target->timeout = 500ms;

  ProbeResult result = probe_single(target);

  EXPECT_FALSE(result.success);
  EXPECT_EQ(code(result.diagnosis), "tls_timeout") << describe(result);
  EXPECT_EQ(failed_phase(result), "tls");
  EXPECT_TRUE(result.phases.connect.has_value());
}

TEST_F(TlsProbe, NonTlsSpeakerIsTlsProtocolError) {
  TlsTestServer server(ServerOptions{.mode = ServerMode::tcp_garbage});

  ProbeResult result = probe_single(loopback_target("https", server.port(), "/ready"));

  EXPECT_FALSE(result.success);
  EXPECT_EQ(code(result.diagnosis), "tls_protocol_error") << describe(result);
  EXPECT_EQ(failed_phase(result), "tls");
}

TEST_F(TlsProbe, ServerClosingAtOnceIsTlsProtocolError) {
  TlsTestServer server(ServerOptions{.mode = ServerMode::tcp_close});

  ProbeResult result = probe_single(loopback_target("https", server.port(), "/ready"));

  EXPECT_FALSE(result.success);
  EXPECT_EQ(code(result.diagnosis), "tls_protocol_error") << describe(result);
  EXPECT_EQ(failed_phase(result), "tls");
}

TEST_F(TlsProbe, TlsInfoReportsVersionAlpnAndChain) {
  // A root that expires before its leaf, so the earliest expiry is the
  // chain's, not the leaf's.
  TestCa short_lived_root = TestCa::create("meshprobe short-lived root", Validity{-1h, 20 * 24h});
  TestCert leaf =
      short_lived_root.issue(LeafSpec{.common_name = "",
                                      .sans = {std::string(kIstiodServiceName), "127.0.0.1"},
                                      .validity = Validity{-1h, 30 * 24h}});
  ServerOptions options = serving(ServerMode::tls_h2, leaf);
  options.cert_chain_pem = leaf.cert_pem + short_lived_root.cert_pem;
  TlsTestServer server(options);

  ProbeResult result =
      probe_single(loopback_target("grpc", server.port(), "", short_lived_root.cert_pem));

  ASSERT_TRUE(result.success) << describe(result);
  ASSERT_TRUE(result.tls.has_value());
  const TlsInfo& tls = *result.tls;
  EXPECT_EQ(tls.version, "TLSv1.3");
  EXPECT_FALSE(tls.cipher.empty());
  EXPECT_EQ(tls.alpn, "h2");
  EXPECT_TRUE(tls.verified);
  ASSERT_EQ(tls.chain.size(), 2u);

  const CertSummary& served_leaf = tls.chain[0];
  EXPECT_EQ(served_leaf.subject, "");
  EXPECT_EQ(served_leaf.issuer, "CN=meshprobe short-lived root");
  EXPECT_TRUE(contains(served_leaf.sans, std::string(kIstiodServiceName)));
  EXPECT_TRUE(contains(served_leaf.sans, "127.0.0.1"));
  EXPECT_EQ(served_leaf.not_before, leaf.not_before);
  EXPECT_EQ(served_leaf.not_after, leaf.not_after);
  EXPECT_FALSE(served_leaf.serial.empty());
  EXPECT_EQ(served_leaf.sha256.size(), 64u);

  EXPECT_EQ(tls.chain[1].subject, "CN=meshprobe short-lived root");
  EXPECT_EQ(tls.chain[1].not_after, short_lived_root.not_after);
  ASSERT_TRUE(tls.earliest_expiry.has_value());
  EXPECT_EQ(*tls.earliest_expiry, short_lived_root.not_after);
}

TEST_F(TlsProbe, ExpiringSoonCertificateWarnsButSucceeds) {
  TlsTestServer server(serving(ServerMode::tls_http, istiod_leaf(Validity{-1h, 5 * 24h})));
  auto target = loopback_target("https", server.port(), "/ready");
  target->expiry_warning_days = 14;

  ProbeResult result = probe_single(target);

  EXPECT_TRUE(result.success) << describe(result);
  EXPECT_EQ(code(result.diagnosis), "ok");
  ASSERT_EQ(result.warnings.size(), 1u);
  EXPECT_EQ(result.warnings[0].code, "tls_expiring_soon");
}

TEST_F(TlsProbe, IpLiteralTargetVerifiesIpSan) {
  TestCert leaf =
      test_ca().issue(LeafSpec{.common_name = "", .sans = {"127.0.0.1"}, .validity = {}});
  TlsTestServer server(serving(ServerMode::tls_http, leaf));
  auto target = loopback_target("https", server.port(), "/ready");
  target->server_name = target->host;  // the URL's own host: the IP

  ProbeResult result = probe_single(target);

  EXPECT_TRUE(result.success) << describe(result);
}

TEST_F(TlsProbe, IpLiteralWithoutIpSanIsTlsNameMismatch) {
  TlsTestServer server(serving(ServerMode::tls_http, istiod_leaf()));
  auto target = loopback_target("https", server.port(), "/ready");
  target->server_name = target->host;

  ProbeResult result = probe_single(target);

  EXPECT_FALSE(result.success);
  EXPECT_EQ(code(result.diagnosis), "tls_name_mismatch") << describe(result);
  EXPECT_EQ(failed_phase(result), "tls");
}

TEST_F(TlsProbe, ExpiredLeafFromUnknownCaIsTlsExpiredAsGoSaysFirst) {
  // Go's Certificate.Verify checks the leaf's validity before it builds a
  // chain, so the API server reports the expiry, not the authority.
  TlsTestServer server(serving(ServerMode::tls_http, istiod_leaf(Validity{-48h, -1h})));
  TestCa stale_ca = TestCa::create("stale caBundle root");

  ProbeResult result =
      probe_single(loopback_target("https", server.port(), "/ready", stale_ca.cert_pem));

  EXPECT_EQ(code(result.diagnosis), "tls_expired") << describe(result);
  EXPECT_NE(result.message.find("x509: certificate has expired or is not yet valid: current time"),
            std::string::npos)
      << result.message;
}

TEST_F(TlsProbe, RefusedChainStillReportsItsFacts) {
  // An expired chain and an untrusted one: the served certificates are
  // summarized whatever the verdict, unverified.
  const TestCert expired = istiod_leaf(Validity{-48h, -1h});
  TlsTestServer expired_server(serving(ServerMode::tls_http, expired));
  TlsTestServer untrusted_server(serving(ServerMode::tls_http, istiod_leaf()));
  TestCa stale_ca = TestCa::create("stale caBundle root");

  ProbeResult expired_result =
      probe_single(loopback_target("https", expired_server.port(), "/ready"));
  ProbeResult untrusted_result =
      probe_single(loopback_target("https", untrusted_server.port(), "/ready", stale_ca.cert_pem));

  for (const ProbeResult* result : {&expired_result, &untrusted_result}) {
    EXPECT_FALSE(result->success) << describe(*result);
    ASSERT_TRUE(result->tls.has_value()) << describe(*result);
    EXPECT_FALSE(result->tls->verified);
    ASSERT_EQ(result->tls->chain.size(), 1u);
    EXPECT_TRUE(contains(result->tls->chain[0].sans, std::string(kIstiodServiceName)));
    EXPECT_FALSE(result->tls->version.empty());
  }
  EXPECT_EQ(code(untrusted_result.diagnosis), "tls_unknown_authority");
  EXPECT_EQ(expired_result.tls->chain[0].not_after, expired.not_after);
  ASSERT_TRUE(expired_result.tls->earliest_expiry.has_value());
  EXPECT_EQ(*expired_result.tls->earliest_expiry, expired.not_after);
}

TEST_F(TlsProbe, ServerNameWithTrailingDotVerifiesAndIsSentWithout) {
  TlsTestServer server(serving(ServerMode::tls_http, istiod_leaf()));
  auto target = loopback_target("https", server.port(), "/ready");
  target->server_name = std::string(kIstiodServiceName) + ".";

  ProbeResult result = probe_single(target);

  EXPECT_TRUE(result.success) << describe(result);
}

TEST_F(TlsProbe, CommonNameOnlyLeafIsTlsNameMismatchWithGosText) {
  TestCert cn_only = test_ca().issue(
      LeafSpec{.common_name = std::string(kIstiodServiceName), .sans = {}, .validity = {}});
  TlsTestServer server(serving(ServerMode::tls_http, cn_only));

  ProbeResult result = probe_single(loopback_target("https", server.port(), "/ready"));

  EXPECT_EQ(code(result.diagnosis), "tls_name_mismatch") << describe(result);
  EXPECT_NE(
      result.message.find("x509: certificate relies on legacy Common Name field, use SANs instead"),
      std::string::npos)
      << result.message;
}

}  // namespace
}  // namespace meshprobe::test
