// The agent's status endpoint (agent/http/http_server.h) as a client on the
// network sees it. Two HttpServers listen on 127.0.0.1 for the whole run, on
// this thread's io_context: one open, one with basic auth (as a web config's
// basic_auth_users sets it). Each input is written as is over a new loopback
// connection to each, which is then half-closed; the io_context is driven
// until the server has answered and closed the connection. The server must
// never crash, and must close within a bound (a hang is reported as a
// crash); whatever it sends must be HTTP. TLS is left out: its record layer
// is OpenSSL's to fuzz, and what it carries is this same HTTP.
#include <boost/asio/io_context.hpp>

#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>

#include "agent/http/http_server.h"
#include "config/web_config.h"

namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// The server closes an idle connection after its read timeout; a connection
// still open this long after the client's last byte is a hang.
constexpr auto kReadTimeout = 500ms;
constexpr auto kHangBound = 5s;

// prometheus:s3cret-pass (libxcrypt, cost 4 to keep each check short), as in
// test/unit/config/web_config_test.cpp.
constexpr char kUser[] = "prometheus";
constexpr char kHash[] = "$2y$04$abcdefghijklmnopqrstuuaUNpTaGyHErb7YklXKRt/SEtSLxPST6";

[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr, "fuzz_http_server: %s\n", what);
  __builtin_trap();
}

meshprobe::HttpResponse answer(int status, std::string content_type, std::string body) {
  meshprobe::HttpResponse response;
  response.status = status;
  response.content_type = std::move(content_type);
  response.body = std::move(body);
  return response;
}

// Routes that reach every kind of answer the server frames: a body, no body
// (204, 304, 1xx), a handler's out-of-range status, a throwing handler.
meshprobe::HttpResponse routes(const meshprobe::HttpRequest& request) {
  if (request.path == "/metrics") return answer(200, "text/plain; version=0.0.4", "up 1\n");
  if (request.path == "/status") {
    return answer(200, "application/json", "{\"query\":\"" + request.query + "\"}");
  }
  if (request.path == "/healthz") return answer(200, "text/plain; charset=utf-8", "ok\n");
  if (request.path == "/readyz") return answer(503, "text/plain; charset=utf-8", "waiting\n");
  if (request.path == "/empty") return answer(204, "text/plain", "");
  if (request.path == "/cached") return answer(304, "text/plain", "ignored");
  if (request.path == "/early") return answer(103, "text/plain", "ignored");
  if (request.path == "/odd") return answer(42, "text/plain", "bad status");
  if (request.path == "/boom") throw std::runtime_error("handler failure");
  return answer(404, "text/plain; charset=utf-8", "not found\n");
}

struct Servers {
  boost::asio::io_context io;
  std::unique_ptr<meshprobe::HttpServer> open;
  std::unique_ptr<meshprobe::HttpServer> with_auth;
};

Servers& servers() {
  static Servers* instance = [] {
    auto* s = new Servers;  // never destroyed: libFuzzer may exit from anywhere
    meshprobe::HttpServerOptions options;
    options.read_timeout = kReadTimeout;
    s->open = std::make_unique<meshprobe::HttpServer>(s->io, "127.0.0.1", 0, routes, options);
    options.web.basic_auth_users.emplace(kUser, kHash);
    options.paths_without_auth = {"/healthz", "/readyz"};
    s->with_auth =
        std::make_unique<meshprobe::HttpServer>(s->io, "127.0.0.1", 0, routes, std::move(options));
    return s;
  }();
  return *instance;
}

std::size_t drive(boost::asio::io_context& io) {
  if (io.stopped()) io.restart();
  return io.poll();
}

// One connection: the input, then the client's half-close; the server's
// answer until it closes.
void exchange(boost::asio::io_context& io, const meshprobe::HttpServer& server,
              const std::uint8_t* data, std::size_t size) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) fail("socket() failed");
  // The client half-closes first, so its end of every exchange lingers in
  // TIME_WAIT for a minute: tens of thousands of exchanges a minute would
  // fill one source address's ephemeral port range, and connect() would
  // fail (EADDRNOTAVAIL) wherever TIME_WAIT reuse is off, which is no fault
  // of the server. Each exchange comes from the next address of
  // 127.1.0.0/16 (all loopback), a fresh range each.
  static std::uint32_t next_source = 0;
  sockaddr_in source{};
  source.sin_family = AF_INET;
  source.sin_addr.s_addr = htonl(0x7f010000U | (next_source++ & 0xffffU));
  const int no_port = 1;
  ::setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &no_port, sizeof no_port);
  if (::bind(fd, reinterpret_cast<const sockaddr*>(&source), sizeof source) != 0) {
    fail("bind() to a loopback source address failed");
  }
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(server.port());
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  // Non-blocking, with the server driven meanwhile: a blocking connect()
  // waits on the server's accept queue, where libFuzzer's SIGALRM ends it
  // with EINTR (seen on a busy machine), and a server that stopped
  // accepting must fail the bound below, not hang the run.
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0) {
    if (errno != EINPROGRESS) {
      std::perror("fuzz_http_server: connect()");
      fail("connect() to the server failed");
    }
    const auto connect_deadline = Clock::now() + kHangBound;
    for (;;) {
      pollfd ready{fd, POLLOUT, 0};
      if (::poll(&ready, 1, 0) > 0) break;
      if (drive(io) == 0) io.run_one_for(1ms);
      if (Clock::now() > connect_deadline) fail("the server did not accept a connection in time");
    }
    int error = 0;
    socklen_t length = sizeof error;
    if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length) != 0 || error != 0) {
      errno = error;
      std::perror("fuzz_http_server: connect()");
      fail("connect() to the server failed");
    }
  }

  std::size_t sent = 0;
  bool writing = true;
  bool closed = false;
  std::string received;
  const auto deadline = Clock::now() + kHangBound;
  while (!closed) {
    if (writing) {
      const ssize_t n = sent == size ? 0 : ::send(fd, data + sent, size - sent, MSG_NOSIGNAL);
      if (n > 0) sent += static_cast<std::size_t>(n);
      if (sent == size) {
        ::shutdown(fd, SHUT_WR);  // the whole input is out: end of the request stream
        writing = false;
      } else if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
        writing = false;  // the server closed or reset: it stopped reading
      }
    }
    bool progressed = drive(io) != 0;
    for (;;) {
      char chunk[16384];
      const ssize_t n = ::recv(fd, chunk, sizeof chunk, 0);
      if (n > 0) {
        received.append(chunk, static_cast<std::size_t>(n));
        progressed = true;
        continue;
      }
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
      closed = true;  // EOF, or a reset
      break;
    }
    // Nothing to do on either side: wait for the server's next event.
    if (!closed && !progressed) io.run_one_for(1ms);
    if (Clock::now() > deadline) fail("the server neither answered nor closed in time");
  }
  // Closed with a reset where the server has not closed first, so no
  // TIME_WAIT entry is left behind.
  const linger reset{1, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &reset, sizeof reset);
  ::close(fd);
  // Let the server see the close and end the connection: no connection may
  // outlive its client (they would pile up against max_connections).
  for (int i = 0; i < 64 && drive(io) != 0; ++i) {
  }

  // Whatever came back is HTTP: a status line first.
  constexpr std::string_view kHttp = "HTTP/";
  const std::string_view start = std::string_view(received).substr(0, kHttp.size());
  if (kHttp.substr(0, start.size()) != start) {
    fail("the server sent something that is not an HTTP response");
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  servers();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  Servers& s = servers();
  exchange(s.io, *s.open, data, size);
  exchange(s.io, *s.with_auth, data, size);
  return 0;
}
