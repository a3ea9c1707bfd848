// Hostile HTTP/2 servers against the grpc probe's call (SPEC 8: hostile or
// broken servers end in a diagnosis, never a hang): each selects h2 and sends
// SETTINGS like a gRPC server, then breaks the call its own way. Each ends in
// its one diagnosis within the probe's timeout, taking in a bounded amount.

#include <gtest/gtest.h>
#include <openssl/ssl.h>

#include <functional>
#include <string>

#include "probe_harness.h"
#include "test/support/hostile_server.h"

namespace meshprobe::test {
namespace {

using namespace std::chrono_literals;

constexpr auto kLateness = 500ms;
constexpr auto kScriptsEnd = 5s;
constexpr std::uint64_t kBoundedBytes = 1024 * 1024;

std::string frame(std::uint8_t type, std::uint8_t flags, std::uint32_t stream,
                  std::string_view payload) {
  std::string out;
  const auto length = static_cast<std::uint32_t>(payload.size());
  for (int shift : {16, 8, 0}) out += static_cast<char>((length >> shift) & 0xff);
  out += static_cast<char>(type);
  out += static_cast<char>(flags);
  for (int shift : {24, 16, 8, 0}) out += static_cast<char>((stream >> shift) & 0xff);
  out.append(payload);
  return out;
}

constexpr std::uint8_t kHeaders = 0x1, kRstStream = 0x3, kPing = 0x6, kGoAway = 0x7,
                       kContinuation = 0x9;
constexpr std::uint8_t kEndStream = 0x1, kEndHeaders = 0x4;

const std::string kGrpcHeaders =
    h2_headers_frame({{":status", "200"}, {"content-type", "application/grpc"}}, false);

int select_h2(SSL*, const unsigned char** out, unsigned char* out_length, const unsigned char* in,
              unsigned int in_length, void*) {
  unsigned char* selected = nullptr;
  static const unsigned char kH2[] = {2, 'h', '2'};
  if (SSL_select_next_proto(&selected, out_length, kH2, sizeof kH2, in, in_length) !=
      OPENSSL_NPN_NEGOTIATED) {
    return SSL_TLSEXT_ERR_ALERT_FATAL;
  }
  *out = selected;
  return SSL_TLSEXT_ERR_OK;
}

class GrpcHostileServer : public ProbeTest {
 protected:
  // A server that completes TLS with ALPN h2, takes the client's preface,
  // sends SETTINGS, then runs `attack` (false stops it) and holds the
  // connection until the probe closes it.
  static HostileScript h2_script(SSL_CTX* ctx, std::function<bool(ServerTls&)> attack) {
    return [ctx, attack](HostileConnection& client) {
      ServerTls tls(client, ctx);
      if (!tls.handshake() || !tls.read_request_head()) return;
      client.limit_send_buffer(64 * 1024);
      if (!tls.write(settings_frame()) || !attack(tls)) return;
      client.hold();
    };
  }

  static SslCtxPtr h2_context() {
    TestCert leaf = istiod_leaf();
    SslCtxPtr ctx = make_hostile_tls_context(leaf.cert_pem, leaf.key_pem);
    SSL_CTX_set_alpn_select_cb(ctx.get(), select_h2, nullptr);
    return ctx;
  }

  static std::shared_ptr<Target> grpc_target(const HostileServer& server,
                                             std::chrono::milliseconds timeout = 2s) {
    auto target = loopback_target("grpc", server.port());
    target->timeout = timeout;
    return target;
  }

  // The one result; checks that the probe finished once, within `at_most`.
  static ProbeResult probe_within(std::shared_ptr<const Target> target,
                                  std::chrono::milliseconds at_least,
                                  std::chrono::milliseconds at_most) {
    ProbeRun run = run_probe(std::move(target));
    EXPECT_EQ(run.completions, 1);
    EXPECT_GE(run.elapsed, at_least);
    EXPECT_LE(run.elapsed, at_most);
    if (run.results.size() != 1) {
      ADD_FAILURE() << "one address probed, so one result";
      return {};
    }
    RecordProperty("message", run.results.front().message);
    return run.results.front();
  }

  // A failure the server caused at once: well before the timeout.
  static ProbeResult probe_fast(std::shared_ptr<const Target> target) {
    const auto timeout = target->timeout;
    return probe_within(std::move(target), 0ms, timeout / 2);
  }

  static void expect_bounded(const HostileServer& server) {
    ASSERT_TRUE(server.wait_until_idle(kScriptsEnd)) << "the server is still writing";
    RecordProperty("server_bytes_sent", std::to_string(server.bytes_sent()));
    EXPECT_LT(server.bytes_sent(), kBoundedBytes);
  }

  static void expect_protocol_error(const ProbeResult& result, std::string_view fragment) {
    EXPECT_FALSE(result.success);
    EXPECT_EQ(code(result.diagnosis), "grpc_protocol_error") << describe(result);
    EXPECT_EQ(failed_phase(result), "app");
    EXPECT_NE(result.message.find(fragment), std::string::npos) << result.message;
  }
};

TEST_F(GrpcHostileServer, UndecodableHpackBlockIsGrpcProtocolError) {
  SslCtxPtr ctx = h2_context();
  // Index 0x7f+: past the static and (empty) dynamic table.
  HostileServer server(h2_script(ctx.get(), [](ServerTls& tls) {
    return tls.write(frame(kHeaders, kEndHeaders, 1, "\xff\xff\xff\x7f"));
  }));

  expect_protocol_error(probe_fast(grpc_target(server)), "HPACK");
}

TEST_F(GrpcHostileServer, HeadersFrameOverTheFrameSizeIsGrpcProtocolError) {
  SslCtxPtr ctx = h2_context();
  HostileServer server(h2_script(ctx.get(), [](ServerTls& tls) {
    return tls.write(frame(kHeaders, kEndHeaders, 1, std::string(100 * 1024, 'h')));
  }));

  expect_protocol_error(probe_fast(grpc_target(server)), "over the 16384");
  expect_bounded(server);
}

TEST_F(GrpcHostileServer, EndlessContinuationIsGrpcProtocolErrorAtTheHeaderBlockCap) {
  SslCtxPtr ctx = h2_context();
  HostileServer server(h2_script(ctx.get(), [](ServerTls& tls) {
    if (!tls.write(frame(kHeaders, 0, 1, "\x88"))) return false;  // :status 200, continued
    const std::string continuation = frame(kContinuation, 0, 1, std::string(4096, '\x88'));
    while (tls.write(continuation)) {
    }
    return false;
  }));

  expect_protocol_error(probe_fast(grpc_target(server)), "CONTINUATION");
  expect_bounded(server);
}

TEST_F(GrpcHostileServer, EndlessEmptyContinuationIsGrpcProtocolErrorAtTheFrameCap) {
  SslCtxPtr ctx = h2_context();
  HostileServer server(h2_script(ctx.get(), [](ServerTls& tls) {
    if (!tls.write(frame(kHeaders, 0, 1, "\x88"))) return false;
    const std::string continuation = frame(kContinuation, 0, 1, "");
    std::string many;
    for (int i = 0; i < 100; ++i) many += continuation;
    while (tls.write(many)) {
    }
    return false;
  }));

  expect_protocol_error(probe_fast(grpc_target(server)), "frames");
  expect_bounded(server);
}

TEST_F(GrpcHostileServer, DataFloodWithoutEndStreamIsGrpcProtocolErrorAtTheWindow) {
  SslCtxPtr ctx = h2_context();
  HostileServer server(h2_script(ctx.get(), [](ServerTls& tls) {
    if (!tls.write(kGrpcHeaders)) return false;
    const std::string data = h2_data_frame(std::string(16 * 1024, 'd'), false);
    while (tls.write(data)) {
    }
    return false;
  }));

  expect_protocol_error(probe_fast(grpc_target(server)), "flow-control window");
  expect_bounded(server);
}

TEST_F(GrpcHostileServer, PingFloodIsGrpcProtocolErrorAtTheFrameCap) {
  SslCtxPtr ctx = h2_context();
  HostileServer server(h2_script(ctx.get(), [](ServerTls& tls) {
    const std::string ping = frame(kPing, 0, 0, std::string(8, 'p'));
    std::string many;
    for (int i = 0; i < 64; ++i) many += ping;
    while (tls.write(many)) {
    }
    return false;
  }));

  expect_protocol_error(probe_fast(grpc_target(server)), "frames");
  expect_bounded(server);
}

TEST_F(GrpcHostileServer, GoawayRightAfterSettingsIsGrpcProtocolError) {
  SslCtxPtr ctx = h2_context();
  HostileServer server(h2_script(ctx.get(), [](ServerTls& tls) {
    // Last stream 0, ENHANCE_YOUR_CALM, debug data.
    return tls.write(frame(kGoAway, 0, 0, std::string("\0\0\0\0\0\0\0\x0b", 8) + "too_many_pings"));
  }));

  ProbeResult result = probe_fast(grpc_target(server));

  expect_protocol_error(result, "GOAWAY ENHANCE_YOUR_CALM");
  EXPECT_NE(result.message.find("too_many_pings"), std::string::npos) << result.message;
}

TEST_F(GrpcHostileServer, RstStreamIsGrpcProtocolError) {
  SslCtxPtr ctx = h2_context();
  HostileServer server(h2_script(ctx.get(), [](ServerTls& tls) {
    return tls.write(frame(kRstStream, 0, 1, std::string("\0\0\0\x07", 4)));
  }));

  expect_protocol_error(probe_fast(grpc_target(server)), "RST_STREAM REFUSED_STREAM");
}

TEST_F(GrpcHostileServer, GrpcAnswerWithoutGrpcStatusIsGrpcProtocolError) {
  SslCtxPtr ctx = h2_context();
  HostileServer server(h2_script(ctx.get(), [](ServerTls& tls) {
    return tls.write(kGrpcHeaders + h2_data_frame(std::string(5, '\0'), true));
  }));

  expect_protocol_error(probe_fast(grpc_target(server)), "without grpc-status");
}

TEST_F(GrpcHostileServer, CloseAfterResponseHeadersIsGrpcProtocolError) {
  SslCtxPtr ctx = h2_context();
  HostileServer server(h2_script(ctx.get(), [](ServerTls& tls) {
    tls.write(kGrpcHeaders);
    return false;  // the script returns: the connection closes
  }));

  expect_protocol_error(probe_fast(grpc_target(server)), "closed the connection");
}

TEST_F(GrpcHostileServer, NotFoundTextPlainIsGrpcNotGrpc) {
  SslCtxPtr ctx = h2_context();
  HostileServer server(
      h2_script(ctx.get(), [](ServerTls& tls) { return tls.write(go_not_found_frames()); }));

  ProbeResult result = probe_fast(grpc_target(server));

  EXPECT_EQ(code(result.diagnosis), "grpc_not_grpc") << describe(result);
  ASSERT_TRUE(result.grpc.has_value());
  EXPECT_EQ(result.grpc->http_status, 404);
  EXPECT_EQ(result.grpc->content_type, "text/plain; charset=utf-8");
}

TEST_F(GrpcHostileServer, TrailersOnlyUnimplementedIsOk) {
  SslCtxPtr ctx = h2_context();
  HostileServer server(h2_script(ctx.get(), [](ServerTls& tls) {
    return tls.write(grpc_answer_frames(GrpcAnswer::unimplemented));
  }));

  ProbeResult result = probe_fast(grpc_target(server));

  EXPECT_TRUE(result.success) << describe(result);
  ASSERT_TRUE(result.grpc.has_value());
  EXPECT_EQ(result.grpc->status, 12);
}

TEST_F(GrpcHostileServer, SilenceAfterSettingsIsGrpcTimeoutAtTheDeadline) {
  SslCtxPtr ctx = h2_context();
  HostileServer server(h2_script(ctx.get(), [](ServerTls&) { return true; }));
  auto target = grpc_target(server, 1s);

  ProbeResult result = probe_within(target, 1s, 1s + kLateness);

  EXPECT_EQ(code(result.diagnosis), "grpc_timeout") << describe(result);
  EXPECT_NE(result.message.find("/grpc.health.v1.Health/Check"), std::string::npos)
      << result.message;
}

}  // namespace
}  // namespace meshprobe::test
