// The agent's HTTP server against real loopback clients written with plain
// POSIX sockets, so what is tested is what goes over the wire.
#include "agent/http/http_server.h"

#include <boost/asio/io_context.hpp>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <optional>
#include <stdexcept>
#include <string>

#include "server_fixture.h"
#include "test/support/posix_socket.h"

namespace meshprobe {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using test::UniqueFd;
using testing::HasSubstr;
using testing::Not;
using testing::StartsWith;
using SteadyClock = std::chrono::steady_clock;

// ---- a blocking loopback client ----------------------------------------------

UniqueFd connect_to(std::uint16_t port) {
  UniqueFd fd(::socket(AF_INET, SOCK_STREAM, 0));
  if (!fd) throw std::runtime_error("socket failed");
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0) {
    throw std::runtime_error("connect failed");
  }
  return fd;
}

// False when the server has already closed or reset the connection.
bool send_text(const UniqueFd& fd, std::string_view text) {
  while (!text.empty()) {
    const ssize_t sent = ::send(fd.get(), text.data(), text.size(), MSG_NOSIGNAL);
    if (sent <= 0) return false;
    text.remove_prefix(static_cast<std::size_t>(sent));
  }
  return true;
}

// Reads what arrives until `done` says enough, the peer closes, or `timeout`.
// `closed` tells whether the peer closed (EOF or reset).
struct Received {
  std::string data;
  bool closed = false;
};

template <typename Done>
Received receive(const UniqueFd& fd, Done done, std::chrono::milliseconds timeout = 5s) {
  Received out;
  const auto deadline = SteadyClock::now() + timeout;
  while (!done(out.data)) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - SteadyClock::now());
    if (left <= 0ms) break;
    pollfd poll_fd{fd.get(), POLLIN, 0};
    if (::poll(&poll_fd, 1, static_cast<int>(left.count())) <= 0) break;
    char chunk[4096];
    const ssize_t got = ::recv(fd.get(), chunk, sizeof chunk, 0);
    if (got <= 0) {
      out.closed = true;
      break;
    }
    out.data.append(chunk, static_cast<std::size_t>(got));
  }
  return out;
}

Received receive_until_closed(const UniqueFd& fd, std::chrono::milliseconds timeout = 5s) {
  return receive(
      fd, [](const std::string&) { return false; }, timeout);
}

struct Reply {
  int status = 0;
  std::string head;  // status line and headers
  std::string body;
};

// One response framed by its Content-Length; `head_only` for answers to HEAD.
Reply receive_reply(const UniqueFd& fd, bool head_only = false) {
  std::size_t body_length = 0;
  const auto complete = [&](const std::string& data) {
    const std::size_t end = data.find("\r\n\r\n");
    if (end == std::string::npos) return false;
    const std::size_t field = data.find("Content-Length: ");
    body_length = field < end && !head_only ? std::stoul(data.substr(field + 16)) : 0;
    return data.size() >= end + 4 + body_length;
  };
  const Received received = receive(fd, complete);
  Reply reply;
  const std::size_t end = received.data.find("\r\n\r\n");
  if (end == std::string::npos || received.data.size() < 12) return reply;
  reply.status = std::stoi(received.data.substr(9, 3));
  reply.head = received.data.substr(0, end + 2);
  reply.body = received.data.substr(end + 4);
  return reply;
}

std::string get_request(std::string_view path, std::string_view method = "GET") {
  return std::string(method) + " " + std::string(path) + " HTTP/1.1\r\nHost: localhost\r\n\r\n";
}

// ---- the server under test ---------------------------------------------------

HttpResponse test_routes(const HttpRequest& request) {
  if (request.path == "/hello") {
    return {200, "text/plain; charset=utf-8", "hello " + request.query};
  }
  if (request.path == "/method") return {200, "text/plain; charset=utf-8", request.method};
  if (request.path == "/boom") throw std::runtime_error("handler bug");
  if (request.path == "/big") return {200, "text/plain", std::string(1 << 20, 'b')};
  if (request.path == "/encoding") {
    // Echoes Accept-Encoding; answers "gzip" as if it had compressed.
    HttpResponse response{200, "text/plain; charset=utf-8", "[" + request.accept_encoding + "]"};
    if (request.query == "gzip") response.content_encoding = "gzip";
    return response;
  }
  if (request.path == "/stream") {
    // Parts "part 0\n" .. "part N-1\n", with an empty part in between that
    // must not end the body early; N from the query (default 3).
    const int parts = request.query.empty() ? 3 : std::stoi(request.query);
    HttpResponse response{200, "text/plain; charset=utf-8", "ignored when streamed"};
    response.stream = [parts, next = 0, empty_sent = false](std::string& out) mutable {
      if (next == 1 && !empty_sent) {
        empty_sent = true;
        return true;
      }
      out += "part " + std::to_string(next++) + "\n";
      return next < parts;
    };
    return response;
  }
  return {404, "text/plain; charset=utf-8", "not found\n"};
}

// Decodes a chunked body (RFC 9112 section 7.1, no extensions or trailers);
// nullopt until the last chunk has arrived.
std::optional<std::string> dechunk(std::string_view data, std::size_t* consumed = nullptr) {
  std::string body;
  std::size_t at = 0;
  for (;;) {
    const std::size_t line_end = data.find("\r\n", at);
    if (line_end == std::string_view::npos) return std::nullopt;
    const std::size_t size = std::stoul(std::string(data.substr(at, line_end - at)), nullptr, 16);
    at = line_end + 2;
    if (data.size() < at + size + 2) return std::nullopt;
    body.append(data.substr(at, size));
    at += size + 2;
    if (size == 0) {
      if (consumed != nullptr) *consumed = at;
      return body;
    }
  }
}

// One streamed (chunked) response: head and decoded body.
Reply receive_chunked_reply(const UniqueFd& fd) {
  // Decoded only once it can be whole (the server sends no trailers):
  // decoding on every read made a large body quadratic, and too slow for the
  // read's timeout under ThreadSanitizer.
  const auto complete = [](const std::string& data) {
    if (!data.ends_with("0\r\n\r\n")) return false;
    const std::size_t end = data.find("\r\n\r\n");
    return end != std::string::npos && dechunk(std::string_view(data).substr(end + 4));
  };
  const Received received = receive(fd, complete);
  Reply reply;
  const std::size_t end = received.data.find("\r\n\r\n");
  if (end == std::string::npos) return reply;
  reply.status = std::stoi(received.data.substr(9, 3));
  reply.head = received.data.substr(0, end + 2);
  std::size_t consumed = 0;
  reply.body = dechunk(std::string_view(received.data).substr(end + 4), &consumed).value_or("");
  EXPECT_EQ(end + 4 + consumed, received.data.size()) << "bytes after the last chunk";
  return reply;
}

class HttpServerTest : public test::HttpServerFixture {
 protected:
  void start(HttpServerOptions options = {}) { start_server(test_routes, std::move(options)); }
};

TEST_F(HttpServerTest, GetReturnsTheHandlersBodyAndHeaders) {
  start();
  const UniqueFd client = connect_to(port());
  ASSERT_TRUE(send_text(client, get_request("/hello?who=me")));
  const Reply reply = receive_reply(client);
  EXPECT_EQ(reply.status, 200);
  EXPECT_EQ(reply.body, "hello who=me");
  EXPECT_THAT(reply.head, HasSubstr("Content-Type: text/plain; charset=utf-8\r\n"));
  EXPECT_THAT(reply.head, HasSubstr("Content-Length: 12\r\n"));
  EXPECT_THAT(reply.head, HasSubstr("Cache-Control: no-store\r\n"));
  EXPECT_THAT(reply.head, HasSubstr("X-Content-Type-Options: nosniff\r\n"));
}

TEST_F(HttpServerTest, AcceptEncodingReachesTheHandler) {
  start();
  const UniqueFd client = connect_to(port());
  ASSERT_TRUE(send_text(client,
                        "GET /encoding HTTP/1.1\r\nHost: x\r\n"
                        "Accept-Encoding: gzip, br;q=0.5\r\n\r\n"));
  EXPECT_EQ(receive_reply(client).body, "[gzip, br;q=0.5]");
  ASSERT_TRUE(send_text(client, get_request("/encoding")));
  EXPECT_EQ(receive_reply(client).body, "[]");
}

TEST_F(HttpServerTest, ContentEncodingIsSentWithVary) {
  start();
  const UniqueFd client = connect_to(port());
  ASSERT_TRUE(send_text(client, get_request("/encoding?gzip")));
  const Reply encoded = receive_reply(client);
  EXPECT_EQ(encoded.status, 200);
  EXPECT_THAT(encoded.head, HasSubstr("Content-Encoding: gzip\r\n"));
  EXPECT_THAT(encoded.head, HasSubstr("Vary: Accept-Encoding\r\n"));
  ASSERT_TRUE(send_text(client, get_request("/encoding?gzip", "HEAD")));
  EXPECT_THAT(receive_reply(client, /*head_only=*/true).head,
              HasSubstr("Content-Encoding: gzip\r\n"));
  // Without one, neither header.
  ASSERT_TRUE(send_text(client, get_request("/encoding")));
  const Reply identity = receive_reply(client);
  EXPECT_THAT(identity.head, Not(HasSubstr("Content-Encoding")));
  EXPECT_THAT(identity.head, Not(HasSubstr("Vary")));
}

TEST_F(HttpServerTest, KeepAliveServesSeveralRequestsOnOneConnection) {
  start();
  const UniqueFd client = connect_to(port());
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(send_text(client, get_request("/hello")));
    EXPECT_EQ(receive_reply(client).status, 200);
  }
}

TEST_F(HttpServerTest, HeadHasTheLengthButNoBody) {
  start();
  const UniqueFd client = connect_to(port());
  ASSERT_TRUE(send_text(client, get_request("/hello?x", "HEAD")));
  const Reply reply = receive_reply(client, /*head_only=*/true);
  EXPECT_EQ(reply.status, 200);
  EXPECT_THAT(reply.head, HasSubstr("Content-Length: 7\r\n"));
  // The next answer on the connection must start right after the headers.
  ASSERT_TRUE(send_text(client, get_request("/hello")));
  const Reply next = receive_reply(client);
  EXPECT_EQ(reply.body, "");
  EXPECT_EQ(next.status, 200);
}

TEST_F(HttpServerTest, StreamedBodyIsSentChunkedPartByPart) {
  start();
  const UniqueFd client = connect_to(port());
  ASSERT_TRUE(send_text(client, get_request("/stream")));
  const Reply reply = receive_chunked_reply(client);
  EXPECT_EQ(reply.status, 200);
  EXPECT_THAT(reply.head, HasSubstr("Transfer-Encoding: chunked\r\n"));
  EXPECT_THAT(reply.head, Not(HasSubstr("Content-Length")));
  EXPECT_THAT(reply.head, HasSubstr("Content-Type: text/plain; charset=utf-8\r\n"));
  EXPECT_THAT(reply.head, HasSubstr("Cache-Control: no-store\r\n"));
  EXPECT_EQ(reply.body, "part 0\npart 1\npart 2\n");
}

TEST_F(HttpServerTest, KeepAliveContinuesAfterAStreamedBody) {
  start();
  const UniqueFd client = connect_to(port());
  ASSERT_TRUE(send_text(client, get_request("/stream?2")));
  EXPECT_EQ(receive_chunked_reply(client).body, "part 0\npart 1\n");
  ASSERT_TRUE(send_text(client, get_request("/hello?again")));
  EXPECT_EQ(receive_reply(client).body, "hello again");
}

TEST_F(HttpServerTest, LargeStreamedBodyArrivesWhole) {
  start();
  const UniqueFd client = connect_to(port());
  ASSERT_TRUE(send_text(client, get_request("/stream?20000")));
  const Reply reply = receive_chunked_reply(client);
  EXPECT_EQ(reply.status, 200);
  EXPECT_EQ(std::count(reply.body.begin(), reply.body.end(), '\n'), 20000);
  EXPECT_THAT(reply.body, testing::EndsWith("part 19999\n"));
}

TEST_F(HttpServerTest, HeadOfAStreamedAnswerHasNoBodyAndCloses) {
  start();
  const UniqueFd client = connect_to(port());
  ASSERT_TRUE(send_text(client, get_request("/stream", "HEAD")));
  const Received received = receive_until_closed(client);
  EXPECT_TRUE(received.closed);
  EXPECT_THAT(received.data, StartsWith("HTTP/1.1 200"));
  EXPECT_THAT(received.data, Not(HasSubstr("Content-Length")));
  EXPECT_THAT(received.data, Not(HasSubstr("part")));
  EXPECT_THAT(received.data, testing::EndsWith("\r\n\r\n"));
}

TEST_F(HttpServerTest, PostIsMethodNotAllowed) {
  start();
  const UniqueFd client = connect_to(port());
  ASSERT_TRUE(send_text(client, get_request("/hello", "POST")));
  const Reply reply = receive_reply(client);
  EXPECT_EQ(reply.status, 405);
  EXPECT_THAT(reply.head, HasSubstr("Allow: GET, HEAD\r\n"));
}

TEST_F(HttpServerTest, PostReachesTheHandlerOnAPathThatTakesPost) {
  HttpServerOptions options;
  options.paths_with_post = {"/method"};
  start(std::move(options));
  const UniqueFd client = connect_to(port());
  ASSERT_TRUE(send_text(client, get_request("/method", "POST")));
  const Reply reply = receive_reply(client);
  EXPECT_EQ(reply.status, 200);
  EXPECT_EQ(reply.body, "POST");
}

TEST_F(HttpServerTest, PostElsewhereIsStillMethodNotAllowed) {
  HttpServerOptions options;
  options.paths_with_post = {"/method"};
  start(std::move(options));
  const UniqueFd client = connect_to(port());
  ASSERT_TRUE(send_text(client, get_request("/hello", "POST")));
  EXPECT_EQ(receive_reply(client).status, 405);
}

TEST_F(HttpServerTest, UnknownPathGetsTheHandlersNotFound) {
  start();
  const UniqueFd client = connect_to(port());
  ASSERT_TRUE(send_text(client, get_request("/nowhere")));
  const Reply reply = receive_reply(client);
  EXPECT_EQ(reply.status, 404);
  EXPECT_EQ(reply.body, "not found\n");
}

TEST_F(HttpServerTest, OversizedHeaderGets431AndTheConnectionCloses) {
  start();
  const UniqueFd client = connect_to(port());
  const std::string request =
      "GET /hello HTTP/1.1\r\nHost: localhost\r\nX-Padding: " + std::string(20 * 1024, 'a') +
      "\r\n\r\n";
  send_text(client, request);  // the server may stop reading part-way
  const Received received = receive_until_closed(client);
  EXPECT_THAT(received.data, StartsWith("HTTP/1.1 431 "));
  EXPECT_TRUE(received.closed);
}

TEST_F(HttpServerTest, RequestWithABodyGets413) {
  start();
  const UniqueFd client = connect_to(port());
  ASSERT_TRUE(
      send_text(client, "GET /hello HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello"));
  const Received received = receive_until_closed(client);
  EXPECT_THAT(received.data, StartsWith("HTTP/1.1 413 "));
  EXPECT_TRUE(received.closed);
}

TEST_F(HttpServerTest, RequestTrickledSlowerThanTheReadTimeoutIsCutOff) {
  HttpServerOptions options;
  options.read_timeout = 300ms;
  start(options);
  const UniqueFd client = connect_to(port());
  const std::string request = get_request("/hello");
  const auto started = SteadyClock::now();
  bool cut_off = false;
  for (const char byte : request) {
    if (SteadyClock::now() - started > 2s) break;
    if (!send_text(client, std::string_view(&byte, 1))) {
      cut_off = true;
      break;
    }
    const Received received = receive_until_closed(client, 100ms);
    if (received.closed) {
      cut_off = true;
      EXPECT_EQ(received.data, "");  // no answer: the request never completed
      break;
    }
  }
  EXPECT_TRUE(cut_off);
  EXPECT_LT(SteadyClock::now() - started, 1s);
}

TEST_F(HttpServerTest, ManySmallHeadersBeyondTheLimitGet431) {
  start();
  const UniqueFd client = connect_to(port());
  std::string request = "GET /hello HTTP/1.1\r\nHost: localhost\r\n";
  for (int i = 0; i < 1000; ++i) request += "X-" + std::to_string(i) + ": y\r\n";
  send_text(client, request + "\r\n");
  const Received received = receive_until_closed(client);
  EXPECT_THAT(received.data, StartsWith("HTTP/1.1 431 "));
  EXPECT_TRUE(received.closed);
}

TEST_F(HttpServerTest, HugeRequestLineGets431) {
  start();
  const UniqueFd client = connect_to(port());
  send_text(client, "GET /hello?" + std::string(64 * 1024, 'q') + " HTTP/1.1\r\n\r\n");
  const Received received = receive_until_closed(client);
  EXPECT_THAT(received.data, StartsWith("HTTP/1.1 431 "));
  EXPECT_TRUE(received.closed);
}

TEST_F(HttpServerTest, ChunkedRequestBodyIsRefused) {
  start();
  const UniqueFd client = connect_to(port());
  send_text(client,
            "GET /hello HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
            "5\r\nhello\r\n0\r\n\r\n");
  const Received received = receive_until_closed(client);
  EXPECT_THAT(received.data, StartsWith("HTTP/1.1 413 "));
  EXPECT_TRUE(received.closed);
}

TEST_F(HttpServerTest, SilentConnectionIsClosedAfterTheReadTimeout) {
  HttpServerOptions options;
  options.read_timeout = 300ms;
  start(options);
  const auto started = SteadyClock::now();
  const UniqueFd client = connect_to(port());
  const Received received = receive_until_closed(client, 3s);
  EXPECT_TRUE(received.closed);
  EXPECT_EQ(received.data, "");
  EXPECT_LT(SteadyClock::now() - started, 1500ms);
}

TEST_F(HttpServerTest, ClientThatDoesNotReadIsCutOffByTheWriteTimeout) {
  HttpServerOptions options;
  options.read_timeout = 300ms;
  options.max_connections = 1;
  start(options);
  const UniqueFd client = connect_to(port());
  // A receive buffer too small to take a big answer, never read.
  const int small = 4096;
  ::setsockopt(client.get(), SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
  // Pipelined requests: their answers pile up in the socket buffers.
  std::string many;
  for (int i = 0; i < 200; ++i) many += get_request("/big");
  send_text(client, many);
  // The slot frees once the write times out: a new client is served.
  const auto deadline = SteadyClock::now() + 5s;
  int status = 0;
  while (status != 200 && SteadyClock::now() < deadline) {
    std::this_thread::sleep_for(100ms);
    const UniqueFd next = connect_to(port());
    if (!send_text(next, get_request("/hello"))) continue;
    status = receive_reply(next).status;
  }
  EXPECT_EQ(status, 200);
}

TEST_F(HttpServerTest, IdleKeepAliveConnectionIsClosedAfterTheReadTimeout) {
  HttpServerOptions options;
  options.read_timeout = 300ms;
  start(options);
  const UniqueFd client = connect_to(port());
  ASSERT_TRUE(send_text(client, get_request("/hello")));
  ASSERT_EQ(receive_reply(client).status, 200);
  EXPECT_TRUE(receive_until_closed(client, 2s).closed);
}

TEST_F(HttpServerTest, MalformedRequestLineGets400AndCloses) {
  start();
  const UniqueFd client = connect_to(port());
  ASSERT_TRUE(send_text(client, "GARBAGE\x01 /\r\n\r\n"));
  const Received received = receive_until_closed(client);
  EXPECT_THAT(received.data, StartsWith("HTTP/1.1 400 "));
  EXPECT_TRUE(received.closed);
}

TEST_F(HttpServerTest, StopClosesIdleKeepAliveConnections) {
  start();  // the default read timeout is 10 s: only stop() can close it soon
  const UniqueFd client = connect_to(port());
  ASSERT_TRUE(send_text(client, get_request("/hello")));
  ASSERT_EQ(receive_reply(client).status, 200);
  on_io([this] { server_->stop(); });
  EXPECT_TRUE(receive_until_closed(client, 2s).closed);
}

TEST_F(HttpServerTest, StopRefusesNewConnections) {
  start();
  const std::uint16_t bound = port();
  on_io([this] { server_->stop(); });
  EXPECT_THROW(connect_to(bound), std::runtime_error);
}

TEST_F(HttpServerTest, ThrowingHandlerGives500AndTheServerKeepsServing) {
  start();
  const UniqueFd client = connect_to(port());
  ASSERT_TRUE(send_text(client, get_request("/boom")));
  const Reply failure = receive_reply(client);
  EXPECT_EQ(failure.status, 500);
  EXPECT_THAT(failure.body, Not(HasSubstr("handler bug")));
  ASSERT_TRUE(send_text(client, get_request("/hello")));
  EXPECT_EQ(receive_reply(client).status, 200);
}

TEST_F(HttpServerTest, ConnectionsBeyondTheLimitAreClosed) {
  HttpServerOptions options;
  options.max_connections = 1;
  start(options);
  const UniqueFd first = connect_to(port());
  ASSERT_TRUE(send_text(first, get_request("/hello")));
  ASSERT_EQ(receive_reply(first).status, 200);

  const UniqueFd second = connect_to(port());
  send_text(second, get_request("/hello"));
  const Received refused = receive_until_closed(second, 2s);
  EXPECT_TRUE(refused.closed);
  EXPECT_EQ(refused.data, "");

  // The first is still served.
  ASSERT_TRUE(send_text(first, get_request("/hello")));
  EXPECT_EQ(receive_reply(first).status, 200);
}

TEST_F(HttpServerTest, Http10ConnectionClosesAfterTheAnswer) {
  start();
  const UniqueFd client = connect_to(port());
  ASSERT_TRUE(send_text(client, "GET /hello HTTP/1.0\r\n\r\n"));
  const Received received = receive_until_closed(client);
  EXPECT_THAT(received.data, StartsWith("HTTP/1.0 200 "));
  EXPECT_TRUE(received.closed);
}

TEST(HttpServerBindTest, PortInUseThrowsSystemError) {
  asio::io_context io;
  HttpServer first(io, "127.0.0.1", 0, test_routes);
  EXPECT_THROW(HttpServer(io, "127.0.0.1", first.port(), test_routes), std::system_error);
}

TEST(HttpServerBindTest, ListensOnIpv6Loopback) {
  asio::io_context io;
  try {
    HttpServer server(io, "::1", 0, test_routes);
    EXPECT_NE(server.port(), 0);
  } catch (const std::system_error&) {
    GTEST_SKIP() << "no IPv6 loopback here";
  }
}

}  // namespace
}  // namespace meshprobe
