#include "test/support/tls_test_server.h"

#include <openssl/err.h>
#include <openssl/rand.h>

#include <nghttp2/nghttp2.h>
#include <poll.h>
#include <pthread.h>
#include <sys/socket.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <csignal>
#include <limits>
#include <list>
#include <mutex>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "test/support/openssl_util.h"
#include "test/support/posix_socket.h"

namespace meshprobe::test {
namespace {

constexpr std::string_view kH2Preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
constexpr std::size_t kMaxRequestHead = 64 * 1024;
constexpr std::chrono::milliseconds kLingerAfterResponse{1000};

// Writing to a socket the peer has closed raises SIGPIPE in the writing
// thread; blocked there, the write fails with EPIPE instead of killing the
// test process.
void block_sigpipe_in_this_thread() {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
}

bool send_all(int fd, std::string_view data, const StopSignal& stop) {
  while (!data.empty()) {
    ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n > 0) {
      data.remove_prefix(static_cast<std::size_t>(n));
    } else if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
      if (wait_for(fd, POLLOUT, stop) != WaitResult::ready) return false;
    } else {
      return false;
    }
  }
  return true;
}

// Reads and discards until the peer closes, the wait times out or the server
// stops.
void hold_until_peer_closes(int fd, const StopSignal& stop,
                            std::chrono::milliseconds timeout = std::chrono::milliseconds{-1}) {
  char buffer[4096];
  while (wait_for(fd, POLLIN, stop, timeout) == WaitResult::ready) {
    ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) return;
  }
}

// A TLS session over a non-blocking socket whose every wait yields to the
// server's stop signal.
class TlsConnection {
 public:
  TlsConnection(SSL_CTX* ctx, int fd, const StopSignal& stop)
      : ssl_(SSL_new(ctx)), fd_(fd), stop_(stop) {
    if (!ssl_ || SSL_set_fd(ssl_.get(), fd) != 1) throw_openssl_error("SSL_new");
  }

  bool handshake() {
    return run([this] { return SSL_accept(ssl_.get()); }) > 0;
  }

  // Bytes read into `buffer`, or 0 once the peer closed, failed, or the
  // server stops.
  std::size_t read_some(char* buffer, std::size_t size) {
    int n = run([&] { return SSL_read(ssl_.get(), buffer, static_cast<int>(size)); });
    return n > 0 ? static_cast<std::size_t>(n) : 0;
  }

  bool read_exactly(std::string& out, std::size_t size) {
    out.resize(size);
    for (std::size_t have = 0; have < size;) {
      std::size_t n = read_some(out.data() + have, size - have);
      if (n == 0) return false;
      have += n;
    }
    return true;
  }

  bool write_all(std::string_view data) {
    while (!data.empty()) {
      int n =
          run([&] { return SSL_write(ssl_.get(), data.data(), static_cast<int>(data.size())); });
      if (n <= 0) return false;
      data.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
  }

  void discard_until_peer_closes() {
    char buffer[4096];
    while (read_some(buffer, sizeof buffer) > 0) {
    }
  }

  std::string_view alpn() const {
    const unsigned char* name = nullptr;
    unsigned int length = 0;
    SSL_get0_alpn_selected(ssl_.get(), &name, &length);
    return {reinterpret_cast<const char*>(name), length};
  }

  // Sends close_notify and half-closes, then lets the client read everything
  // before the socket goes: closing with unread input would reset the
  // connection and could destroy the response in flight.
  void close_gracefully() {
    ERR_clear_error();
    SSL_shutdown(ssl_.get());
    ::shutdown(fd_, SHUT_WR);
    hold_until_peer_closes(fd_, stop_, kLingerAfterResponse);
  }

 private:
  // Repeats `operation` while OpenSSL waits on the socket; its last result.
  template <class Operation>
  int run(Operation operation) {
    for (;;) {
      ERR_clear_error();
      int result = operation();
      if (result > 0) return result;
      short events = 0;
      switch (SSL_get_error(ssl_.get(), result)) {
        case SSL_ERROR_WANT_READ: events = POLLIN; break;
        case SSL_ERROR_WANT_WRITE: events = POLLOUT; break;
        default: ERR_clear_error(); return result;
      }
      if (wait_for(fd_, events, stop_) != WaitResult::ready) return 0;
    }
  }

  SslPtr ssl_;
  int fd_;
  const StopSignal& stop_;
};

std::string_view reason_phrase(int status) {
  switch (status) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 404: return "Not Found";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    default: return "Status";
  }
}

std::string http_response(int status) {
  std::string body = std::to_string(status) + " " + std::string(reason_phrase(status)) + "\n";
  return "HTTP/1.1 " + std::to_string(status) + " " + std::string(reason_phrase(status)) +
         "\r\nContent-Type: text/plain\r\nContent-Length: " + std::to_string(body.size()) +
         "\r\nConnection: close\r\n\r\n" + body;
}

// The path of "GET /ready?x=1 HTTP/1.1", without its query.
std::string request_path(std::string_view head) {
  auto start = head.find(' ');
  if (start == std::string_view::npos) return {};
  auto end = head.find_first_of(" ?\r", start + 1);
  if (end == std::string_view::npos) return {};
  return std::string(head.substr(start + 1, end - start - 1));
}

}  // namespace

// A SETTINGS frame as istiod's gRPC server opens with.
std::string settings_frame() {
  constexpr std::array<std::pair<std::uint16_t, std::uint32_t>, 3> settings = {{
      {0x3, 100},    // MAX_CONCURRENT_STREAMS
      {0x4, 65535},  // INITIAL_WINDOW_SIZE
      {0x5, 16384},  // MAX_FRAME_SIZE
  }};
  std::string frame;
  auto put = [&frame](std::uint32_t value, int bytes) {
    for (int shift = 8 * (bytes - 1); shift >= 0; shift -= 8) {
      frame.push_back(static_cast<char>((value >> shift) & 0xff));
    }
  };
  put(static_cast<std::uint32_t>(6 * settings.size()), 3);  // length
  put(0x4, 1);                                              // type SETTINGS
  put(0, 1);                                                // flags
  put(0, 4);                                                // stream 0
  for (const auto& [id, value] : settings) {
    put(id, 2);
    put(value, 4);
  }
  return frame;
}

namespace {

void put_frame_header(std::string& out, std::size_t length, std::uint8_t type, std::uint8_t flags,
                      std::uint32_t stream) {
  const auto l = static_cast<std::uint32_t>(length);
  for (int shift : {16, 8, 0}) out.push_back(static_cast<char>((l >> shift) & 0xff));
  out.push_back(static_cast<char>(type));
  out.push_back(static_cast<char>(flags));
  for (int shift : {24, 16, 8, 0}) out.push_back(static_cast<char>((stream >> shift) & 0xff));
}

constexpr std::uint8_t kH2Data = 0x0, kH2Headers = 0x1, kH2EndStream = 0x1, kH2EndHeaders = 0x4;

}  // namespace

std::string h2_headers_frame(const std::vector<std::pair<std::string, std::string>>& fields,
                             bool end_stream, std::uint32_t stream) {
  std::vector<nghttp2_nv> nva;
  for (const auto& [name, value] : fields) {
    nva.push_back({reinterpret_cast<std::uint8_t*>(const_cast<char*>(name.data())),
                   reinterpret_cast<std::uint8_t*>(const_cast<char*>(value.data())), name.size(),
                   value.size(), NGHTTP2_NV_FLAG_NONE});
  }
  nghttp2_hd_deflater* deflater = nullptr;
  if (nghttp2_hd_deflate_new(&deflater, 4096) != 0) throw std::bad_alloc();
  std::string block(nghttp2_hd_deflate_bound(deflater, nva.data(), nva.size()), '\0');
  const auto size = nghttp2_hd_deflate_hd(deflater, reinterpret_cast<std::uint8_t*>(block.data()),
                                          block.size(), nva.data(), nva.size());
  nghttp2_hd_deflate_del(deflater);
  if (size < 0) throw std::bad_alloc();
  block.resize(static_cast<std::size_t>(size));
  std::string frame;
  put_frame_header(frame, block.size(), kH2Headers,
                   static_cast<std::uint8_t>(kH2EndHeaders | (end_stream ? kH2EndStream : 0)),
                   stream);
  return frame + block;
}

std::string h2_data_frame(std::string_view payload, bool end_stream, std::uint32_t stream) {
  std::string frame;
  put_frame_header(frame, payload.size(), kH2Data, end_stream ? kH2EndStream : 0, stream);
  frame.append(payload);
  return frame;
}

std::string grpc_answer_frames(GrpcAnswer answer) {
  const std::pair<std::string, std::string> ok = {":status", "200"};
  const std::pair<std::string, std::string> grpc = {"content-type", "application/grpc"};
  switch (answer) {
    case GrpcAnswer::unimplemented:
      return h2_headers_frame({ok,
                               grpc,
                               {"grpc-status", "12"},
                               {"grpc-message", "unknown service grpc.health.v1.Health"}},
                              true);
    case GrpcAnswer::unauthenticated:
      return h2_headers_frame(
          {ok, grpc, {"grpc-status", "16"}, {"grpc-message", "authentication failure"}}, true);
    case GrpcAnswer::serving:
    case GrpcAnswer::not_serving: {
      // A HealthCheckResponse{status: SERVING (1) or NOT_SERVING (2)}.
      std::string message("\0\0\0\0\x02\x08", 6);
      message += answer == GrpcAnswer::serving ? '\x01' : '\x02';
      return h2_headers_frame({ok, grpc}, false) + h2_data_frame(message, false) +
             h2_headers_frame({{"grpc-status", "0"}}, true);
    }
    case GrpcAnswer::none: break;
  }
  return "";
}

std::string go_not_found_frames() {
  // What Go's net/http answers a gRPC call on a path it does not serve.
  const std::string body = "404 page not found\n";
  return h2_headers_frame({{":status", "404"},
                           {"content-type", "text/plain; charset=utf-8"},
                           {"x-content-type-options", "nosniff"},
                           {"content-length", std::to_string(body.size())}},
                          false) +
         h2_data_frame(body, true);
}

namespace {

// Picks `wanted` from the client's length-prefixed ALPN list.
bool find_protocol(const unsigned char* list, unsigned int length, std::string_view wanted,
                   const unsigned char** out, unsigned char* out_length) {
  for (unsigned int i = 0; i < length;) {
    unsigned int size = list[i];
    if (i + 1 + size > length) return false;
    std::string_view offered(reinterpret_cast<const char*>(list + i + 1), size);
    if (offered == wanted) {
      *out = list + i + 1;
      *out_length = static_cast<unsigned char>(size);
      return true;
    }
    i += 1 + size;
  }
  return false;
}

int select_alpn(SSL*, const unsigned char** out, unsigned char* out_length, const unsigned char* in,
                unsigned int in_length, void* arg) {
  const auto& options = *static_cast<const ServerOptions*>(arg);
  bool wants_h2 = (options.mode == ServerMode::tls_h2 && options.offer_h2) ||
                  (options.mode == ServerMode::tls_http && options.http_also_h2);
  if (wants_h2 && find_protocol(in, in_length, "h2", out, out_length)) {
    return SSL_TLSEXT_ERR_OK;
  }
  if (find_protocol(in, in_length, "http/1.1", out, out_length)) return SSL_TLSEXT_ERR_OK;
  return SSL_TLSEXT_ERR_NOACK;
}

void use_certificate(SSL_CTX* ctx, const std::string& cert_chain_pem, const std::string& key_pem) {
  std::vector<X509Ptr> chain = read_certificates(cert_chain_pem);
  EvpPkeyPtr key = read_private_key(key_pem);
  if (SSL_CTX_use_certificate(ctx, chain.front().get()) != 1) {
    throw_openssl_error("SSL_CTX_use_certificate");
  }
  SSL_CTX_clear_chain_certs(ctx);
  for (std::size_t i = 1; i < chain.size(); ++i) {
    if (SSL_CTX_add1_chain_cert(ctx, chain[i].get()) != 1) {
      throw_openssl_error("SSL_CTX_add1_chain_cert");
    }
  }
  if (SSL_CTX_use_PrivateKey(ctx, key.get()) != 1 || SSL_CTX_check_private_key(ctx) != 1) {
    throw_openssl_error("the key does not match the certificate");
  }
}

SslCtxPtr make_server_context(const ServerOptions& options) {
  SslCtxPtr ctx(SSL_CTX_new(TLS_server_method()));
  if (!ctx) throw_openssl_error("SSL_CTX_new");
  use_certificate(ctx.get(), options.cert_chain_pem, options.key_pem);
  if (options.max_tls_version != 0 &&
      SSL_CTX_set_max_proto_version(ctx.get(), options.max_tls_version) != 1) {
    throw_openssl_error("SSL_CTX_set_max_proto_version");
  }
  if (!options.session_resumption) {
    SSL_CTX_set_options(ctx.get(), SSL_OP_NO_TICKET);
    SSL_CTX_set_session_cache_mode(ctx.get(), SSL_SESS_CACHE_OFF);
    // TLS 1.3 with SSL_OP_NO_TICKET still sends stateful tickets: none.
    SSL_CTX_set_num_tickets(ctx.get(), 0);
  }
  // The options outlive the context: both belong to the server's Impl.
  SSL_CTX_set_alpn_select_cb(ctx.get(), select_alpn, const_cast<ServerOptions*>(&options));
  return ctx;
}

bool uses_tls(ServerMode mode) {
  return mode == ServerMode::tls_http || mode == ServerMode::tls_h2;
}

}  // namespace

struct TlsTestServer::Impl {
  struct Worker {
    std::atomic<bool> finished{false};
    std::thread thread;
  };

  explicit Impl(ServerOptions server_options)
      : options(std::move(server_options)),
        listener(bind_socket(options.listen_ip, options.port, SOCK_STREAM)),
        port(local_port(listener.get())) {
    if (uses_tls(options.mode)) tls = make_server_context(options);
    acceptor = std::thread([this] { accept_loop(); });
  }

  ~Impl() {
    stop.request();
    acceptor.join();
    for (Worker& worker : workers) worker.thread.join();
  }

  void accept_loop() {
    while (wait_for(listener.get(), POLLIN, stop) == WaitResult::ready) {
      join_finished_workers();
      UniqueFd connection(
          ::accept4(listener.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC));
      if (!connection) continue;
      Worker& worker = workers.emplace_back();
      worker.thread = std::thread([this, &worker, fd = connection.release()] {
        block_sigpipe_in_this_thread();
        serve(UniqueFd(fd));
        worker.finished = true;
      });
    }
  }

  // Keeps a long-running server (the testpeer) from collecting threads.
  void join_finished_workers() {
    for (auto it = workers.begin(); it != workers.end();) {
      if (it->finished) {
        it->thread.join();
        it = workers.erase(it);
      } else {
        ++it;
      }
    }
  }

  void serve(UniqueFd connection) {
    int fd = connection.get();
    switch (options.mode) {
      case ServerMode::tcp_close: return;
      case ServerMode::tcp_silent: hold_until_peer_closes(fd, stop); return;
      case ServerMode::tcp_garbage:
        if (send_all(fd, options.garbage, stop)) hold_until_peer_closes(fd, stop);
        return;
      case ServerMode::tls_http:
      case ServerMode::tls_h2: {
        std::unique_lock<std::mutex> serving(certificate_lock);
        TlsConnection session(tls.get(), fd, stop);
        serving.unlock();
        if (!session.handshake()) return;
        if (options.mode == ServerMode::tls_http && session.alpn() != "h2") {
          serve_http(session);
        } else {
          serve_h2(session);
        }
        return;
      }
    }
  }

  void serve_http(TlsConnection& session) {
    std::string head;
    char buffer[4096];
    while (head.find("\r\n\r\n") == std::string::npos) {
      std::size_t n = session.read_some(buffer, sizeof buffer);
      if (n == 0 || head.size() + n > kMaxRequestHead) return;
      head.append(buffer, n);
    }
    if (options.hang) {
      session.discard_until_peer_closes();
      return;
    }
    if (!sleep_unless_stopped(options.response_delay, stop)) return;
    auto path_status = options.status_by_path.find(request_path(head));
    int status = path_status != options.status_by_path.end() ? path_status->second : options.status;
    if (session.write_all(http_response(status))) session.close_gracefully();
  }

  void serve_h2(TlsConnection& session) {
    // istiod (1.24+) closes connections that did not negotiate h2.
    if (session.alpn() != "h2") {
      session.close_gracefully();
      return;
    }
    std::string preface;
    if (!session.read_exactly(preface, kH2Preface.size()) || preface != kH2Preface) return;
    if (!options.send_settings) {
      session.discard_until_peer_closes();
      return;
    }
    if (!session.write_all(settings_frame())) return;
    if (!read_until_request_ends(session)) return;
    const std::string answer = options.mode == ServerMode::tls_http
                                   ? go_not_found_frames()
                                   : grpc_answer_frames(options.grpc_answer);
    if (!answer.empty() && !session.write_all(answer)) return;
    session.discard_until_peer_closes();
  }

  // Reads the client's frames until one ends stream 1 (the request's last).
  static bool read_until_request_ends(TlsConnection& session) {
    for (int frames = 0; frames < 64; ++frames) {
      std::string header;
      if (!session.read_exactly(header, 9)) return false;
      const auto byte = [&](int i) { return static_cast<unsigned char>(header[i]); };
      const std::size_t length =
          (std::size_t{byte(0)} << 16) | (std::size_t{byte(1)} << 8) | byte(2);
      std::string payload;
      if (length > 0 && !session.read_exactly(payload, length)) return false;
      const bool stream1 = byte(5) == 0 && byte(6) == 0 && byte(7) == 0 && byte(8) == 1;
      const bool ends = (byte(3) == kH2Data || byte(3) == kH2Headers) && (byte(4) & kH2EndStream);
      if (stream1 && ends) return true;
    }
    return false;
  }

  ServerOptions options;
  UniqueFd listener;
  std::uint16_t port;
  SslCtxPtr tls;
  // A connection's SSL copies the context's certificate when it is made:
  // serve_certificate changes it only between those copies.
  std::mutex certificate_lock;
  StopSignal stop;
  std::list<Worker> workers;  // touched by the acceptor only, until it is joined
  std::thread acceptor;
};

TlsTestServer::TlsTestServer(ServerOptions options)
    : impl_(std::make_unique<Impl>(std::move(options))) {}

TlsTestServer::~TlsTestServer() = default;

std::uint16_t TlsTestServer::port() const { return impl_->port; }

void TlsTestServer::serve_certificate(const std::string& cert_chain_pem,
                                      const std::string& key_pem) {
  std::lock_guard<std::mutex> serving(impl_->certificate_lock);
  use_certificate(impl_->tls.get(), cert_chain_pem, key_pem);
}

void TlsTestServer::forget_sessions() {
  std::lock_guard<std::mutex> serving(impl_->certificate_lock);
  SSL_CTX* ctx = impl_->tls.get();
  // OpenSSL's ticket keys: 16 bytes of name, 32 of HMAC key, 32 of AES key.
  unsigned char keys[80];
  if (RAND_bytes(keys, sizeof keys) != 1 ||
      SSL_CTX_ctrl(ctx, SSL_CTRL_SET_TLSEXT_TICKET_KEYS, sizeof keys, keys) != 1) {
    throw_openssl_error("new session ticket keys");
  }
  SSL_CTX_flush_sessions(ctx, std::numeric_limits<long>::max());
}

}  // namespace meshprobe::test
