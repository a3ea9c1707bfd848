// Hostile and broken servers (the README's Design notes: slow, garbage and huge chains end in a
// diagnosis, never a hang): each ends in its one diagnosis, within the
// probe's timeout, without the probe taking in more than it needs.

#include "test/support/hostile_server.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "probe_harness.h"

namespace meshprobe::test {
namespace {

using namespace std::chrono_literals;

// How late past its timeout a probe may finish on a loaded two-core machine
// (sanitizers included): the deadline closes the socket, nothing waits longer.
constexpr auto kLateness = 500ms;
// The pace of every trickle.
constexpr auto kTrickle = 1000ms;
// More than a well-behaved probe ever takes in, and far less than a probe
// reading an endless stream for its whole timeout would be sent.
constexpr std::uint64_t kBoundedBytes = 1024 * 1024;
constexpr auto kScriptsEnd = 5s;

const std::string kHead =
    "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 64\r\n\r\n";

class HostileServerProbe : public ProbeTest {
 protected:
  // The probe's one result; checks that it finished once and in `within`.
  static ProbeResult probe_within(std::shared_ptr<const Target> target,
                                  std::chrono::milliseconds at_least,
                                  std::chrono::milliseconds at_most) {
    ProbeRun run = run_probe(std::move(target));
    EXPECT_EQ(run.completions, 1) << "the completion must run exactly once";
    EXPECT_GE(run.elapsed, at_least);
    EXPECT_LE(run.elapsed, at_most);
    RecordProperty("elapsed_ms",
                   static_cast<int>(
                       std::chrono::duration_cast<std::chrono::milliseconds>(run.elapsed).count()));
    if (run.results.size() != 1) {
      ADD_FAILURE() << "one address probed, so one result";
      return {};
    }
    RecordProperty("diagnosis", std::string(code(run.results.front().diagnosis)));
    RecordProperty("message", run.results.front().message);
    return run.results.front();
  }

  // A failure the server caused at once: well before the timeout.
  static ProbeResult probe_fast(std::shared_ptr<const Target> target) {
    const auto timeout = target->timeout;
    return probe_within(std::move(target), 0ms, timeout / 2);
  }

  // A failure only the deadline ends: at the timeout, not much later.
  static ProbeResult probe_until_deadline(std::shared_ptr<const Target> target) {
    const auto timeout = target->timeout;
    return probe_within(std::move(target), timeout, timeout + kLateness);
  }

  static std::shared_ptr<Target> https_target(const HostileServer& server,
                                              std::chrono::milliseconds timeout = 2s) {
    auto target = loopback_target("https", server.port(), "/ready");
    target->timeout = timeout;
    return target;
  }

  // The webhook's certificate, in a context the scripts share.
  static SslCtxPtr istiod_context() {
    TestCert leaf = istiod_leaf();
    return make_hostile_tls_context(leaf.cert_pem, leaf.key_pem);
  }

  // `count` DNS names none of which is the webhook Service's.
  static std::vector<std::string> many_names(int count) {
    std::vector<std::string> names;
    names.reserve(static_cast<std::size_t>(count));
    for (int i = 0; i < count; ++i) {
      names.push_back("istiod-" + std::to_string(i) + ".istio-system.svc");
    }
    return names;
  }
};

// --- slow servers: one byte per second at each layer ---

TEST_F(HostileServerProbe, TrickledTlsHandshakeIsTlsTimeout) {
  SslCtxPtr ctx = istiod_context();
  HostileServer server([&](HostileConnection& client) {
    ServerTls tls(client, ctx.get());
    if (auto flight = tls.first_flight()) client.trickle(*flight, kTrickle);
  });

  ProbeResult result = probe_until_deadline(https_target(server));

  EXPECT_EQ(code(result.diagnosis), "tls_timeout") << describe(result);
  EXPECT_EQ(failed_phase(result), "tls");
  EXPECT_GT(server.bytes_sent(), 0u) << "the server did start answering";
}

TEST_F(HostileServerProbe, HandshakeStalledAfterServerHelloIsTlsTimeout) {
  SslCtxPtr ctx = istiod_context();
  HostileServer server([&](HostileConnection& client) {
    ServerTls tls(client, ctx.get());
    auto flight = tls.first_flight();
    // Only the first record, the ServerHello, gets through: what a path MTU
    // black hole leaves of a flight whose certificate fills full-size packets.
    if (!flight || flight->size() < 5) return;
    const std::size_t first_record =
        5 + ((std::size_t{static_cast<unsigned char>((*flight)[3])} << 8) |
             static_cast<unsigned char>((*flight)[4]));
    if (client.send(flight->substr(0, first_record))) client.hold();
  });

  ProbeResult result = probe_until_deadline(https_target(server, 1s));

  EXPECT_EQ(code(result.diagnosis), "tls_timeout") << describe(result);
  EXPECT_EQ(failed_phase(result), "tls");
  // Not a silent listener: the message says where the handshake stood.
  EXPECT_NE(result.message.find("server hello"), std::string::npos) << result.message;
}

TEST_F(HostileServerProbe, TrickledHttpHeadIsHttpTimeout) {
  SslCtxPtr ctx = istiod_context();
  HostileServer server([&](HostileConnection& client) {
    ServerTls tls(client, ctx.get());
    if (tls.handshake() && tls.read_request_head()) tls.write_trickled(kHead, kTrickle);
  });

  ProbeResult result = probe_until_deadline(https_target(server));

  EXPECT_EQ(code(result.diagnosis), "http_timeout") << describe(result);
  EXPECT_EQ(failed_phase(result), "app");
  EXPECT_EQ(result.http_status, 0);
  EXPECT_NE(result.message.find("incomplete after"), std::string::npos) << result.message;
  ASSERT_TRUE(result.tls.has_value());
  EXPECT_TRUE(result.tls->verified);
}

TEST_F(HostileServerProbe, TrickledHttpBodyAfterCompleteHeadIsOk) {
  SslCtxPtr ctx = istiod_context();
  HostileServer server([&](HostileConnection& client) {
    ServerTls tls(client, ctx.get());
    if (tls.handshake() && tls.read_request_head() && tls.write(kHead)) {
      tls.write_trickled(std::string(64, 'b'), kTrickle);
    }
  });

  // The head is all the probe reads: the body's pace is irrelevant.
  ProbeResult result = probe_fast(https_target(server));

  EXPECT_TRUE(result.success) << describe(result);
  EXPECT_EQ(result.http_status, 200);
}

// --- huge answers ---

TEST_F(HostileServerProbe, OneMegabyteCertificateChainIsTlsProtocolError) {
  TestCert leaf = istiod_leaf();
  std::string chain = leaf.cert_pem;
  for (int i = 0; i < 16; ++i) chain += padded_certificate_pem(64 * 1024);
  SslCtxPtr ctx = make_hostile_tls_context(chain, leaf.key_pem);
  HostileServer server([&](HostileConnection& client) {
    ServerTls tls(client, ctx.get());
    tls.handshake();
  });

  ProbeResult result = probe_fast(https_target(server));

  EXPECT_EQ(code(result.diagnosis), "tls_protocol_error") << describe(result);
  EXPECT_EQ(failed_phase(result), "tls");
  EXPECT_NE(result.message.find("certificate chain"), std::string::npos) << result.message;
}

TEST_F(HostileServerProbe, FiveThousandSansIncludingTheNameIsOk) {
  std::vector<std::string> sans = many_names(5000);
  sans.insert(sans.begin() + 2500, std::string(kIstiodServiceName));
  TestCert leaf = test_ca().issue(LeafSpec{.common_name = "", .sans = sans, .validity = {}});
  SslCtxPtr ctx = make_hostile_tls_context(leaf.cert_pem, leaf.key_pem);
  HostileServer server([&](HostileConnection& client) {
    ServerTls tls(client, ctx.get());
    if (tls.handshake() && tls.read_request_head()) tls.write(kHead + std::string(64, 'b'));
  });

  ProbeResult result = probe_fast(https_target(server));

  EXPECT_TRUE(result.success) << describe(result);
  ASSERT_TRUE(result.tls.has_value());
  ASSERT_FALSE(result.tls->chain.empty());
  // The summary keeps a bounded number of names, and says how many it left out.
  EXPECT_LE(result.tls->chain[0].sans.size(), 65u);
  EXPECT_EQ(result.tls->chain[0].sans.back(), "... 4937 more");
}

TEST_F(HostileServerProbe, FiveThousandSansWithoutTheNameIsTlsNameMismatch) {
  TestCert leaf =
      test_ca().issue(LeafSpec{.common_name = "", .sans = many_names(5000), .validity = {}});
  SslCtxPtr ctx = make_hostile_tls_context(leaf.cert_pem, leaf.key_pem);
  HostileServer server([&](HostileConnection& client) {
    ServerTls tls(client, ctx.get());
    if (tls.handshake()) client.hold();
  });

  ProbeResult result = probe_fast(https_target(server));

  EXPECT_EQ(code(result.diagnosis), "tls_name_mismatch") << describe(result);
  EXPECT_EQ(failed_phase(result), "tls");
  // The message lists the SANs, but not all five thousand of them.
  EXPECT_LT(result.message.size(), 4096u);
  EXPECT_NE(result.message.find("more"), std::string::npos) << result.message;
}

TEST_F(HostileServerProbe, EndlessHttpBodyIsOkAndOnlyTheHeadIsRead) {
  SslCtxPtr ctx = istiod_context();
  HostileServer server([&](HostileConnection& client) {
    ServerTls tls(client, ctx.get());
    if (!tls.handshake() || !tls.read_request_head()) return;
    // A fixed send buffer: what the kernel accepts tracks what the probe
    // takes in, instead of growing into megabytes on its own.
    client.limit_send_buffer(64 * 1024);
    if (!tls.write("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n")) return;
    const std::string chunk(16 * 1024, 'b');
    while (tls.write(chunk)) {
    }
  });

  ProbeResult result = probe_fast(https_target(server));

  EXPECT_TRUE(result.success) << describe(result);
  EXPECT_EQ(result.http_status, 200);
  // The probe closed the connection: the server's endless write failed.
  ASSERT_TRUE(server.wait_until_idle(kScriptsEnd)) << "the server is still writing";
  RecordProperty("server_bytes_sent", std::to_string(server.bytes_sent()));
  EXPECT_LT(server.bytes_sent(), kBoundedBytes);
}

TEST_F(HostileServerProbe, EndlessHttpHeadIsHttpProtocolErrorAtTheHeadCap) {
  SslCtxPtr ctx = istiod_context();
  HostileServer server([&](HostileConnection& client) {
    ServerTls tls(client, ctx.get());
    if (!tls.handshake() || !tls.read_request_head()) return;
    client.limit_send_buffer(64 * 1024);
    if (!tls.write("HTTP/1.1 200 OK\r\n")) return;
    const std::string fields = [] {
      std::string out;
      while (out.size() < 16 * 1024) out += "X-Padding: " + std::string(100, 'h') + "\r\n";
      return out;
    }();
    while (tls.write(fields)) {
    }
  });

  ProbeResult result = probe_fast(https_target(server));

  EXPECT_EQ(code(result.diagnosis), "http_protocol_error") << describe(result);
  EXPECT_EQ(failed_phase(result), "app");
  ASSERT_TRUE(server.wait_until_idle(kScriptsEnd)) << "the server is still writing";
  RecordProperty("server_bytes_sent", std::to_string(server.bytes_sent()));
  EXPECT_LT(server.bytes_sent(), kBoundedBytes);
}

// --- resets and closes ---

TEST_F(HostileServerProbe, ResetAfterClientHelloIsTlsProtocolError) {
  HostileServer server([](HostileConnection& client) {
    if (client.read_tls_record()) client.reset();
  });

  ProbeResult result = probe_fast(https_target(server));

  EXPECT_EQ(code(result.diagnosis), "tls_protocol_error") << describe(result);
  EXPECT_EQ(failed_phase(result), "tls");
  EXPECT_NE(result.message.find("reset"), std::string::npos) << result.message;
}

TEST_F(HostileServerProbe, ResetInsideServerHelloIsTlsProtocolError) {
  SslCtxPtr ctx = istiod_context();
  HostileServer server([&](HostileConnection& client) {
    ServerTls tls(client, ctx.get());
    auto flight = tls.first_flight();
    // The record header and part of the ServerHello, then the reset.
    if (flight && client.send(flight->substr(0, 20))) {
      client.pause(50ms);  // so the bytes leave before the RST
      client.reset();
    }
  });

  ProbeResult result = probe_fast(https_target(server));

  EXPECT_EQ(code(result.diagnosis), "tls_protocol_error") << describe(result);
  EXPECT_EQ(failed_phase(result), "tls");
  EXPECT_NE(result.message.find("reset"), std::string::npos) << result.message;
}

TEST_F(HostileServerProbe, AcceptAndCloseIsTlsProtocolError) {
  HostileServer server([](HostileConnection&) {});

  ProbeResult result = probe_fast(https_target(server));

  EXPECT_EQ(code(result.diagnosis), "tls_protocol_error") << describe(result);
  EXPECT_EQ(failed_phase(result), "tls");
  EXPECT_EQ(server.connections(), 1) << "accepted, then closed: not refused";
}

TEST_F(HostileServerProbe, AcceptAndCloseIsOkForTcpProbe) {
  HostileServer server([](HostileConnection&) {});
  auto target = loopback_target("tcp", server.port());

  // Only the TCP connect is asked for, and it succeeded.
  ProbeResult result = probe_fast(target);

  EXPECT_TRUE(result.success) << describe(result);
}

// --- the wrong protocol on the port ---

TEST_F(HostileServerProbe, Tls10OnlyServerIsTlsProtocolError) {
  SslCtxPtr ctx = istiod_context();
  // OpenSSL 3 disables TLS 1.0 above security level 0: open it back up so
  // the server really offers it, like an old appliance would.
  SSL_CTX_set_min_proto_version(ctx.get(), TLS1_VERSION);
  SSL_CTX_set_max_proto_version(ctx.get(), TLS1_VERSION);
  ASSERT_EQ(SSL_CTX_set_cipher_list(ctx.get(), "DEFAULT:@SECLEVEL=0"), 1);
  HostileServer server([&](HostileConnection& client) {
    ServerTls tls(client, ctx.get());
    if (tls.handshake()) client.hold();
  });
  SslCtxPtr old_client(SSL_CTX_new(TLS_client_method()));
  SSL_CTX_set_min_proto_version(old_client.get(), TLS1_VERSION);
  SSL_CTX_set_max_proto_version(old_client.get(), TLS1_VERSION);
  SSL_CTX_set_cipher_list(old_client.get(), "DEFAULT:@SECLEVEL=0");
  ASSERT_EQ(negotiated_version(server.port(), old_client.get()), "TLSv1")
      << "the server must really speak TLS 1.0";

  ProbeResult result = probe_fast(https_target(server));

  EXPECT_EQ(code(result.diagnosis), "tls_protocol_error") << describe(result);
  EXPECT_EQ(failed_phase(result), "tls");
  EXPECT_NE(result.message.find("no TLS version in common"), std::string::npos) << result.message;
}

TEST_F(HostileServerProbe, SshBannerAnsweringClientHelloIsTlsProtocolError) {
  HostileServer server([](HostileConnection& client) {
    if (client.read_tls_record() && client.send("SSH-2.0-OpenSSH\r\n")) client.hold();
  });

  ProbeResult result = probe_fast(https_target(server));

  EXPECT_EQ(code(result.diagnosis), "tls_protocol_error") << describe(result);
  EXPECT_EQ(failed_phase(result), "tls");
  EXPECT_NE(result.message.find("not TLS"), std::string::npos) << result.message;
}

TEST_F(HostileServerProbe, HttpResponseAnsweringClientHelloIsTlsProtocolError) {
  // What a plain-HTTP server makes of a ClientHello.
  HostileServer server([](HostileConnection& client) {
    if (client.read_tls_record()) {
      client.send(
          "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\n"
          "400 Bad Request");
    }
  });

  ProbeResult result = probe_fast(https_target(server));

  EXPECT_EQ(code(result.diagnosis), "tls_protocol_error") << describe(result);
  EXPECT_EQ(failed_phase(result), "tls");
  EXPECT_NE(result.message.find("not TLS"), std::string::npos) << result.message;
}

TEST_F(HostileServerProbe, SilentListenerSwallowingClientHelloIsTlsTimeout) {
  HostileServer server([](HostileConnection& client) {
    if (client.read_tls_record()) client.hold();
  });

  ProbeResult result = probe_until_deadline(https_target(server, 1s));

  EXPECT_EQ(code(result.diagnosis), "tls_timeout") << describe(result);
  EXPECT_EQ(failed_phase(result), "tls");
  EXPECT_TRUE(result.phases.connect.has_value());
}

}  // namespace
}  // namespace meshprobe::test
