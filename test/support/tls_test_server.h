// A misbehaving-on-demand server for probe tests: a healthy webhook, an xDS
// port, or the broken things a firewall path shows (silence, garbage, resets).
// Runs its accept loop and each connection on threads of its own; the
// destructor stops it promptly even while clients hold connections.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace meshprobe::test {

enum class ServerMode {
  tls_http,     // TLS, then one HTTP/1.1 response per connection
  tls_h2,       // TLS with ALPN h2, then the server's SETTINGS after the preface
  tcp_silent,   // accepts and never sends a byte
  tcp_garbage,  // sends a non-TLS banner, then holds the connection
  tcp_close,    // accepts and closes at once
};

// How a tls_h2 server answers the gRPC call on stream 1 (istiod's xDS port
// has no health service: UNIMPLEMENTED).
enum class GrpcAnswer {
  unimplemented,    // trailers-only, grpc-status 12
  serving,          // a HealthCheckResponse SERVING, then grpc-status 0
  not_serving,      // a HealthCheckResponse NOT_SERVING, then grpc-status 0
  unauthenticated,  // trailers-only, grpc-status 16
  none,             // read the call, never answer it
};

struct ServerOptions {
  ServerMode mode = ServerMode::tls_http;
  std::string listen_ip = "127.0.0.1";
  std::uint16_t port = 0;  // 0: an ephemeral port, see port()

  // TLS modes: the served chain (leaf first) and the leaf's key.
  std::string cert_chain_pem{};
  std::string key_pem{};
  // The highest TLS version served (TLS1_2_VERSION: a TLS 1.2 server); 0:
  // TLS 1.3.
  int max_tls_version = 0;
  // false: no session tickets and no session cache, so every handshake is
  // full whatever session the client offers.
  bool session_resumption = true;

  // tls_http
  int status = 200;
  std::map<std::string, int> status_by_path{};  // request path without query
  std::chrono::milliseconds response_delay{0};  // after the request head arrives
  bool hang = false;                            // read the request, never answer
  // Also select h2 when the client offers it, answer an HTTP/2 client
  // preface with SETTINGS and a request with Go's 404 (text/plain), as Go's
  // net/http TLS server (istiod's webhook port 15017) does to a gRPC call. A
  // client offering only http/1.1 gets HTTP/1.1.
  bool http_also_h2 = false;

  // tls_h2
  bool offer_h2 = true;       // false: ALPN selects http/1.1, or nothing
  bool send_settings = true;  // false: h2 negotiated but the preface goes unanswered
  GrpcAnswer grpc_answer = GrpcAnswer::unimplemented;

  // tcp_garbage
  std::string garbage = "SSH-2.0-OpenSSH_9.2\r\n";
};

// HTTP/2 frames for test servers: a HEADERS frame (END_HEADERS) of `fields`
// HPACK-encoded by nghttp2, a DATA frame, and the answers TlsTestServer gives.
std::string h2_headers_frame(const std::vector<std::pair<std::string, std::string>>& fields,
                             bool end_stream, std::uint32_t stream = 1);
std::string h2_data_frame(std::string_view payload, bool end_stream, std::uint32_t stream = 1);
std::string grpc_answer_frames(GrpcAnswer answer);
std::string go_not_found_frames();
// The SETTINGS frame istiod's gRPC server opens with.
std::string settings_frame();

class TlsTestServer {
 public:
  // Listens before returning, so port() is usable at once. Throws when the
  // address cannot be bound or a TLS mode lacks a usable certificate and key.
  explicit TlsTestServer(ServerOptions options);
  ~TlsTestServer();
  TlsTestServer(const TlsTestServer&) = delete;
  TlsTestServer& operator=(const TlsTestServer&) = delete;

  std::uint16_t port() const;
  // Serves another chain (leaf first) and key from the next handshake on,
  // keeping the session ticket key: sessions granted before still resume.
  void serve_certificate(const std::string& cert_chain_pem, const std::string& key_pem);
  // New session ticket keys and an empty session cache: every session
  // granted before is refused (the client's next handshake is full).
  void forget_sessions();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace meshprobe::test
