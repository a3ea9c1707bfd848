// The xDS path: ALPN must select h2, the server must open with SETTINGS and
// answer a gRPC call with a gRPC status.

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
  // istiod's xDS port has no health service: UNIMPLEMENTED proves gRPC.
  ASSERT_TRUE(result.grpc.has_value());
  EXPECT_EQ(result.grpc->method, "/grpc.health.v1.Health/Check");
  EXPECT_EQ(result.grpc->status, 12);
  EXPECT_EQ(result.grpc->message, "unknown service grpc.health.v1.Health");
  EXPECT_EQ(result.grpc->serving_status, "");
}

TEST_F(GrpcProbe, HealthServingIsOkWithTheServingStatus) {
  ServerOptions options = serving(ServerMode::tls_h2, istiod_leaf());
  options.grpc_answer = GrpcAnswer::serving;
  TlsTestServer server(options);
  auto target = loopback_target("grpc", server.port());
  target->grpc_expect_serving = true;

  ProbeResult result = probe_single(target);

  EXPECT_TRUE(result.success) << describe(result);
  ASSERT_TRUE(result.grpc.has_value());
  EXPECT_EQ(result.grpc->status, 0);
  EXPECT_EQ(result.grpc->serving_status, "SERVING");
}

TEST_F(GrpcProbe, NotServingWhenServingIsExpectedIsGrpcNotServing) {
  ServerOptions options = serving(ServerMode::tls_h2, istiod_leaf());
  options.grpc_answer = GrpcAnswer::not_serving;
  TlsTestServer server(options);
  auto target = loopback_target("grpc", server.port());
  target->grpc_expect_serving = true;

  ProbeResult result = probe_single(target);

  EXPECT_FALSE(result.success);
  EXPECT_EQ(code(result.diagnosis), "grpc_not_serving") << describe(result);
  ASSERT_TRUE(result.grpc.has_value());
  EXPECT_EQ(result.grpc->serving_status, "NOT_SERVING");
}

TEST_F(GrpcProbe, UnimplementedWhenServingIsExpectedIsGrpcNotServing) {
  TlsTestServer server(serving(ServerMode::tls_h2, istiod_leaf()));
  auto target = loopback_target("grpc", server.port());
  target->grpc_expect_serving = true;

  ProbeResult result = probe_single(target);

  EXPECT_EQ(code(result.diagnosis), "grpc_not_serving") << describe(result);
  EXPECT_NE(result.message.find("12 UNIMPLEMENTED"), std::string::npos) << result.message;
}

TEST_F(GrpcProbe, UnauthenticatedIsOk) {
  // istiod authenticates xDS: a refused call still proves a gRPC server.
  ServerOptions options = serving(ServerMode::tls_h2, istiod_leaf());
  options.grpc_answer = GrpcAnswer::unauthenticated;
  TlsTestServer server(options);

  ProbeResult result = probe_single(loopback_target("grpc", server.port()));

  EXPECT_TRUE(result.success) << describe(result);
  ASSERT_TRUE(result.grpc.has_value());
  EXPECT_EQ(result.grpc->status, 16);
}

TEST_F(GrpcProbe, GoHttpsServerWithH2IsGrpcNotGrpc) {
  // Go's net/http on istiod's webhook port: h2 and SETTINGS, then a 404.
  ServerOptions options = serving(ServerMode::tls_http, istiod_leaf());
  options.http_also_h2 = true;
  TlsTestServer server(options);

  ProbeResult result = probe_single(loopback_target("grpc", server.port()));

  EXPECT_FALSE(result.success);
  EXPECT_EQ(code(result.diagnosis), "grpc_not_grpc") << describe(result);
  EXPECT_EQ(failed_phase(result), "app");
  EXPECT_NE(result.message.find("HTTP status 404, content-type \"text/plain; charset=utf-8\""),
            std::string::npos)
      << result.message;
  EXPECT_NE(result.message.find("15017"), std::string::npos) << result.message;
  ASSERT_TRUE(result.grpc.has_value());
  EXPECT_EQ(result.grpc->http_status, 404);
  EXPECT_FALSE(result.grpc->status.has_value());
}

TEST_F(GrpcProbe, UnansweredCallIsGrpcTimeout) {
  ServerOptions options = serving(ServerMode::tls_h2, istiod_leaf());
  options.grpc_answer = GrpcAnswer::none;
  TlsTestServer server(options);
  auto target = loopback_target("grpc", server.port());
  target->timeout = 500ms;

  ProbeResult result = probe_single(target);

  EXPECT_EQ(code(result.diagnosis), "grpc_timeout") << describe(result);
  EXPECT_EQ(failed_phase(result), "app");
}

TEST_F(GrpcProbe, OtherMethodIsCalled) {
  TlsTestServer server(serving(ServerMode::tls_h2, istiod_leaf()));
  auto target = loopback_target("grpc", server.port());
  target->grpc_method =
      "/envoy.service.discovery.v3.AggregatedDiscoveryService/StreamAggregatedResources";

  ProbeResult result = probe_single(target);

  EXPECT_TRUE(result.success) << describe(result);
  ASSERT_TRUE(result.grpc.has_value());
  EXPECT_EQ(result.grpc->method, target->grpc_method);
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
