// The xDS path: ALPN must select h2 and the server must open with SETTINGS.

#include <gtest/gtest.h>

#include "probe_harness.h"

namespace meshprobe::test {
namespace {

using namespace std::chrono_literals;

class GrpcProbe : public ProbeTest {};

TEST_F(GrpcProbe, GrpcWithH2AndSettingsSucceeds) {
  TlsTestServer server(serving(ServerMode::tls_h2, istiod_leaf()));

  ProbeResult result = probe_single(loopback_target("grpc", server.port()));

  EXPECT_TRUE(result.success) << describe(result);
  EXPECT_EQ(code(result.diagnosis), "ok");
  EXPECT_EQ(result.address, "127.0.0.1");
  ASSERT_TRUE(result.tls.has_value());
  EXPECT_EQ(result.tls->alpn, "h2");
  EXPECT_TRUE(result.phases.app.has_value());
}

TEST_F(GrpcProbe, GrpcWithoutH2IsGrpcNotH2) {
  ServerOptions options = serving(ServerMode::tls_h2, istiod_leaf());
  options.offer_h2 = false;
  TlsTestServer server(options);

  ProbeResult result = probe_single(loopback_target("grpc", server.port()));

  EXPECT_FALSE(result.success);
  EXPECT_EQ(code(result.diagnosis), "grpc_not_h2") << describe(result);
  EXPECT_EQ(failed_phase(result), "app");
}

TEST_F(GrpcProbe, PrefaceWithoutSettingsIsGrpcNotH2) {
  ServerOptions options = serving(ServerMode::tls_h2, istiod_leaf());
  options.send_settings = false;
  TlsTestServer server(options);
  auto target = loopback_target("grpc", server.port());
  target->timeout = 500ms;

  ProbeResult result = probe_single(target);

  EXPECT_FALSE(result.success);
  EXPECT_EQ(code(result.diagnosis), "grpc_not_h2") << describe(result);
  EXPECT_EQ(failed_phase(result), "app");
}

TEST_F(GrpcProbe, WebhookPortIsGrpcNotH2) {
  // The common misconfiguration: the discovery address points at 15017.
  TlsTestServer server(serving(ServerMode::tls_http, istiod_leaf()));

  ProbeResult result = probe_single(loopback_target("grpc", server.port()));

  EXPECT_FALSE(result.success);
  EXPECT_EQ(code(result.diagnosis), "grpc_not_h2") << describe(result);
}

}  // namespace
}  // namespace meshprobe::test
