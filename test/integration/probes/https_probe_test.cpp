// The webhook path: TLS, then GET /ready as the API server would call it.

#include <gtest/gtest.h>

#include "probe_harness.h"

namespace meshprobe::test {
namespace {

using namespace std::chrono_literals;

class HttpsProbe : public ProbeTest {};

TEST_F(HttpsProbe, HttpsProbeSucceedsAgainstHealthyWebhook) {
  ServerOptions options = serving(ServerMode::tls_http, istiod_leaf());
  // Anything but /ready answers 404: a success proves the path was sent.
  options.status = 404;
  options.status_by_path = {{"/ready", 200}};
  TlsTestServer server(options);

  ProbeResult result = probe_single(loopback_target("https", server.port(), "/ready"));

  EXPECT_TRUE(result.success) << describe(result);
  EXPECT_EQ(code(result.diagnosis), "ok");
  EXPECT_EQ(failed_phase(result), "none");
  EXPECT_EQ(result.address, "127.0.0.1");
  EXPECT_EQ(result.http_status, 200);
  EXPECT_TRUE(result.phases.connect.has_value());
  EXPECT_TRUE(result.phases.tls.has_value());
  EXPECT_TRUE(result.phases.app.has_value());
  ASSERT_TRUE(result.tls.has_value());
  EXPECT_TRUE(result.tls->verified);
  EXPECT_TRUE(result.warnings.empty());
}

TEST_F(HttpsProbe, Status500IsHttpUnexpectedStatus) {
  ServerOptions options = serving(ServerMode::tls_http, istiod_leaf());
  options.status = 500;
  TlsTestServer server(options);

  ProbeResult result = probe_single(loopback_target("https", server.port(), "/ready"));

  EXPECT_FALSE(result.success);
  EXPECT_EQ(code(result.diagnosis), "http_unexpected_status") << describe(result);
  EXPECT_EQ(failed_phase(result), "app");
  EXPECT_EQ(result.http_status, 500);
  EXPECT_EQ(result.address, "127.0.0.1");
}

TEST_F(HttpsProbe, ExpectedStatusOtherThan200IsHonoured) {
  ServerOptions options = serving(ServerMode::tls_http, istiod_leaf());
  options.status = 404;
  TlsTestServer server(options);
  auto target = loopback_target("https", server.port(), "/inject");
  target->expected_status = 404;

  ProbeResult result = probe_single(target);

  EXPECT_TRUE(result.success) << describe(result);
  EXPECT_EQ(result.http_status, 404);
}

TEST_F(HttpsProbe, HungHandlerIsHttpTimeout) {
  ServerOptions options = serving(ServerMode::tls_http, istiod_leaf());
  options.hang = true;
  TlsTestServer server(options);
  auto target = loopback_target("https", server.port(), "/ready");
  target->timeout = 500ms;

  ProbeResult result = probe_single(target);

  EXPECT_FALSE(result.success);
  EXPECT_EQ(code(result.diagnosis), "http_timeout") << describe(result);
  EXPECT_EQ(failed_phase(result), "app");
  EXPECT_EQ(result.http_status, 0);
  // The handshake passed: the failure is the handler's, not the transport's.
  ASSERT_TRUE(result.tls.has_value());
  EXPECT_TRUE(result.tls->verified);
}

TEST_F(HttpsProbe, TlsProbeStopsAfterTheHandshake) {
  TlsTestServer server(serving(ServerMode::tls_http, istiod_leaf()));

  ProbeResult result = probe_single(loopback_target("tls", server.port()));

  EXPECT_TRUE(result.success) << describe(result);
  EXPECT_TRUE(result.phases.tls.has_value());
  EXPECT_FALSE(result.phases.app.has_value());
  EXPECT_EQ(result.http_status, 0);
}

}  // namespace
}  // namespace meshprobe::test
