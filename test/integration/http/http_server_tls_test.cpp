// The endpoint with a web config: TLS (checked by a real OpenSSL client that
// verifies the chain), client certificates, basic auth, and the same limits
// as plain HTTP -- a handshake that never finishes is cut off by the read
// timeout, and it holds one of the bounded connection slots meanwhile.
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <stdexcept>
#include <string>
#include <thread>

#include "agent/http/http_server.h"
#include "config/web_config.h"
#include "server_fixture.h"
#include "test/support/openssl_util.h"
#include "test/support/posix_socket.h"
#include "test/support/test_pki.h"

namespace meshprobe {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using test::UniqueFd;
using testing::HasSubstr;
using testing::Not;
using testing::StartsWith;
using SteadyClock = std::chrono::steady_clock;

// Both of "s3cret-pass": cost 4 (fast) and cost 13 (about half a second),
// made with libxcrypt.
constexpr char kHash[] = "$2y$04$abcdefghijklmnopqrstuuaUNpTaGyHErb7YklXKRt/SEtSLxPST6";
constexpr char kSlowHash[] = "$2y$13$abcdefghijklmnopqrstuunPU01woZJ9m5gU8fFTivtAtiM8Tvv1q";

// ---- clients -------------------------------------------------------------------

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
  // A bound on every blocking call, so a test fails rather than hangs.
  timeval timeout{5, 0};
  ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  ::setsockopt(fd.get(), SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
  return fd;
}

bool send_raw(const UniqueFd& fd, std::string_view text) {
  while (!text.empty()) {
    const ssize_t sent = ::send(fd.get(), text.data(), text.size(), MSG_NOSIGNAL);
    if (sent <= 0) return false;
    text.remove_prefix(static_cast<std::size_t>(sent));
  }
  return true;
}

// Whether the server closes (EOF or reset) within `timeout`; what it sent
// before that goes to `data`.
bool closed_within(const UniqueFd& fd, std::chrono::milliseconds timeout,
                   std::string* data = nullptr) {
  const auto deadline = SteadyClock::now() + timeout;
  for (;;) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - SteadyClock::now());
    if (left <= 0ms) return false;
    pollfd poll_fd{fd.get(), POLLIN, 0};
    if (::poll(&poll_fd, 1, static_cast<int>(left.count())) <= 0) return false;
    char chunk[4096];
    const ssize_t got = ::recv(fd.get(), chunk, sizeof chunk, 0);
    if (got <= 0) return true;
    if (data) data->append(chunk, static_cast<std::size_t>(got));
  }
}

struct Reply {
  int status = 0;
  std::string head;
  std::string body;
  bool closed = false;  // the connection ended before a whole reply came
};

struct TlsClientOptions {
  std::filesystem::path ca;  // verify the server against it (and its name)
  std::string name = "127.0.0.1";
  std::filesystem::path cert;  // a client certificate, if any
  std::filesystem::path key;
  int max_version = 0;  // e.g. TLS1_2_VERSION
};

// A blocking OpenSSL client over loopback that verifies the server's chain
// and name, as curl or Prometheus would.
class TlsClient {
 public:
  TlsClient(std::uint16_t port, const TlsClientOptions& options)
      : fd_(connect_to(port)), ctx_(SSL_CTX_new(TLS_client_method())) {
    // OpenSSL writes with write(): a server that closed must not kill the test.
    std::signal(SIGPIPE, SIG_IGN);
    if (!ctx_) test::throw_openssl_error("SSL_CTX_new");
    SSL_CTX_set_verify(ctx_.get(), SSL_VERIFY_PEER, nullptr);
    if (SSL_CTX_load_verify_locations(ctx_.get(), options.ca.c_str(), nullptr) != 1) {
      test::throw_openssl_error("load CA");
    }
    if (options.max_version != 0) SSL_CTX_set_max_proto_version(ctx_.get(), options.max_version);
    if (!options.cert.empty()) {
      SSL_CTX_use_certificate_chain_file(ctx_.get(), options.cert.c_str());
      SSL_CTX_use_PrivateKey_file(ctx_.get(), options.key.c_str(), SSL_FILETYPE_PEM);
    }
    ssl_.reset(SSL_new(ctx_.get()));
    SSL_set_fd(ssl_.get(), fd_.get());
    SSL_set1_host(ssl_.get(), options.name.c_str());
    handshake_ok_ = SSL_connect(ssl_.get()) == 1;
    if (!handshake_ok_) {
      char text[256];
      ERR_error_string_n(ERR_get_error(), text, sizeof text);
      error_ = text;
    }
    ERR_clear_error();
  }

  // After the server's last answer: whether it ended the TLS session with
  // close_notify (a clean end) rather than just closing the socket.
  bool ends_cleanly() {
    char byte;
    const int got = SSL_read(ssl_.get(), &byte, 1);
    const bool clean = got <= 0 && SSL_get_error(ssl_.get(), got) == SSL_ERROR_ZERO_RETURN;
    ERR_clear_error();
    return clean;
  }

  bool handshake_ok() const { return handshake_ok_; }
  const std::string& error() const { return error_; }
  const UniqueFd& fd() const { return fd_; }

  bool send(std::string_view text) {
    while (!text.empty()) {
      const int sent = SSL_write(ssl_.get(), text.data(), static_cast<int>(text.size()));
      if (sent <= 0) return false;
      text.remove_prefix(static_cast<std::size_t>(sent));
    }
    return true;
  }

  // One response framed by Content-Length (HEAD: headers only).
  Reply reply(bool head_only = false) {
    std::string data;
    Reply out;
    for (;;) {
      const std::size_t end = data.find("\r\n\r\n");
      if (end != std::string::npos) {
        const std::size_t field = data.find("Content-Length: ");
        const std::size_t length =
            field < end && !head_only ? std::stoul(data.substr(field + 16)) : 0;
        if (data.size() >= end + 4 + length) {
          out.status = std::stoi(data.substr(9, 3));
          out.head = data.substr(0, end + 2);
          out.body = data.substr(end + 4, length);
          return out;
        }
      }
      char chunk[4096];
      const int got = SSL_read(ssl_.get(), chunk, sizeof chunk);
      if (got <= 0) {
        ERR_clear_error();
        out.closed = true;
        out.body = data;
        return out;
      }
      data.append(chunk, static_cast<std::size_t>(got));
    }
  }

 private:
  UniqueFd fd_;
  test::SslCtxPtr ctx_;
  test::SslPtr ssl_;
  bool handshake_ok_ = false;
  std::string error_;
};

std::string request(std::string_view path, std::string_view headers = "",
                    std::string_view method = "GET") {
  return std::string(method) + " " + std::string(path) + " HTTP/1.1\r\nHost: localhost\r\n" +
         std::string(headers) + "\r\n";
}

std::string basic(std::string_view user_and_password) {
  // Base64 by OpenSSL, as a client would send it.
  std::string out(4 * ((user_and_password.size() + 2) / 3) + 1, '\0');
  const int length =
      EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                      reinterpret_cast<const unsigned char*>(user_and_password.data()),
                      static_cast<int>(user_and_password.size()));
  out.resize(static_cast<std::size_t>(length));
  return "Authorization: Basic " + out + "\r\n";
}

// ---- the server ------------------------------------------------------------------

HttpResponse routes(const HttpRequest& request) {
  if (request.path == "/healthz") return {200, "text/plain; charset=utf-8", "ok\n"};
  if (request.path == "/hello") return {200, "text/plain; charset=utf-8", "hello"};
  return {404, "text/plain; charset=utf-8", "not found\n"};
}

class HttpServerTlsTest : public test::HttpServerFixture {
 protected:
  HttpServerTlsTest() {
    const test::TestCa ca = test::TestCa::create("endpoint-ca");
    ca_ = ca.write(dir_.path(), "ca");
    server_files_ =
        ca.issue({"meshprobe", {"127.0.0.1", "localhost"}, {}}).write(dir_.path(), "server");
    client_ = ca.issue({"prometheus", {"prometheus"}, {}}).write(dir_.path(), "client");
    const test::TestCa other = test::TestCa::create("other-ca");
    other_ca_ = other.write(dir_.path(), "other-ca");
    other_server_ = other.issue({"meshprobe", {"127.0.0.1"}, {}}).write(dir_.path(), "other");
    stranger_ = other.issue({"stranger", {"stranger"}, {}}).write(dir_.path(), "stranger");
  }

  // A web config file with `text` appended to the TLS section, loaded.
  WebConfig web_config(const std::string& text, const test::PemFiles* server = nullptr) {
    const test::PemFiles& files = server ? *server : server_files_;
    const std::string yaml = "tls_server_config:\n  cert_file: " + files.cert.string() +
                             "\n  key_file: " + files.key.string() + "\n" + text;
    test::write_file(dir_.path() / "web.yml", yaml);
    return load_web_config((dir_.path() / "web.yml").string());
  }

  void start(WebConfig web, HttpServerOptions options = {}) {
    options.web = std::move(web);
    options.paths_without_auth = {"/healthz"};
    options.paths_with_post = {"/hello"};
    start_server(routes, std::move(options));
  }

  TlsClientOptions trusting() const { return {ca_.cert, "127.0.0.1", {}, {}, 0}; }

  test::TempDir dir_;
  test::PemFiles ca_, server_files_, client_, other_ca_, other_server_, stranger_;
};

TEST_F(HttpServerTlsTest, ServesOverTlsWithAVerifiedChainAndName) {
  start(web_config(""));
  EXPECT_TRUE(server_->tls());
  TlsClient client(port(), trusting());
  ASSERT_TRUE(client.handshake_ok()) << client.error();
  for (int i = 0; i < 2; ++i) {  // keep-alive inside one TLS session
    ASSERT_TRUE(client.send(request("/hello")));
    const Reply reply = client.reply();
    EXPECT_EQ(reply.status, 200);
    EXPECT_EQ(reply.body, "hello");
  }
}

TEST_F(HttpServerTlsTest, ClientTrustingAnotherCaFailsTheHandshake) {
  start(web_config(""));
  TlsClient client(port(), {other_ca_.cert, "127.0.0.1", {}, {}, 0});
  EXPECT_FALSE(client.handshake_ok());
}

TEST_F(HttpServerTlsTest, ConnectionCloseEndsWithCloseNotify) {
  start(web_config(""));
  TlsClient client(port(), trusting());
  ASSERT_TRUE(client.handshake_ok()) << client.error();
  ASSERT_TRUE(client.send(request("/hello", "Connection: close\r\n")));
  EXPECT_EQ(client.reply().status, 200);
  // The next read sees the TLS close, not a truncated stream.
  EXPECT_TRUE(client.ends_cleanly());
}

TEST_F(HttpServerTlsTest, PlainHttpToTheTlsPortIsToldToUseHttps) {
  start(web_config(""));
  const UniqueFd plain = connect_to(port());
  ASSERT_TRUE(send_raw(plain, request("/hello")));
  std::string data;
  EXPECT_TRUE(closed_within(plain, 3s, &data));
  EXPECT_THAT(data, StartsWith("HTTP/1.1 400 "));
  EXPECT_THAT(data, HasSubstr("use https://"));
  EXPECT_THAT(data, Not(HasSubstr("hello")));
}

TEST_F(HttpServerTlsTest, SilentClientIsCutOffByTheReadTimeout) {
  HttpServerOptions options;
  options.read_timeout = 300ms;
  start(web_config(""), options);
  const auto started = SteadyClock::now();
  const UniqueFd silent = connect_to(port());
  std::string data;
  EXPECT_TRUE(closed_within(silent, 3s, &data));
  EXPECT_EQ(data, "");
  EXPECT_LT(SteadyClock::now() - started, 1500ms);
}

TEST_F(HttpServerTlsTest, HandshakeThatNeverFinishesIsCutOffByTheReadTimeout) {
  HttpServerOptions options;
  options.read_timeout = 300ms;
  start(web_config(""), options);
  const auto started = SteadyClock::now();
  const UniqueFd stalled = connect_to(port());
  // A TLS record header announcing a 512-byte ClientHello, and only its start.
  ASSERT_TRUE(send_raw(stalled, std::string("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 11)));
  std::string data;
  EXPECT_TRUE(closed_within(stalled, 3s, &data));
  EXPECT_EQ(data, "");
  EXPECT_LT(SteadyClock::now() - started, 1500ms);
  // The server still serves.
  TlsClient client(port(), trusting());
  ASSERT_TRUE(client.handshake_ok()) << client.error();
  ASSERT_TRUE(client.send(request("/hello")));
  EXPECT_EQ(client.reply().status, 200);
}

TEST_F(HttpServerTlsTest, UnfinishedHandshakesHoldTheirSlotsAndTheLimitHolds) {
  HttpServerOptions options;
  options.read_timeout = 800ms;
  options.max_connections = 2;
  start(web_config(""), options);
  const UniqueFd first = connect_to(port());
  const UniqueFd second = connect_to(port());
  ASSERT_TRUE(send_raw(first, std::string("\x16\x03\x01\x02\x00", 5)));
  ASSERT_TRUE(send_raw(second, std::string("\x16\x03\x01\x02\x00", 5)));
  std::this_thread::sleep_for(100ms);  // both accepted and counted

  // A third, even a well-behaved one, gets no slot.
  TlsClient refused(port(), trusting());
  EXPECT_FALSE(refused.handshake_ok());

  // Once the read timeout frees the slots, TLS clients are served again.
  EXPECT_TRUE(closed_within(first, 3s));
  EXPECT_TRUE(closed_within(second, 3s));
  TlsClient client(port(), trusting());
  ASSERT_TRUE(client.handshake_ok()) << client.error();
  ASSERT_TRUE(client.send(request("/hello")));
  EXPECT_EQ(client.reply().status, 200);
}

TEST_F(HttpServerTlsTest, RequestTrickledAfterTheHandshakeIsCutOff) {
  HttpServerOptions options;
  options.read_timeout = 300ms;
  start(web_config(""), options);
  TlsClient client(port(), trusting());
  ASSERT_TRUE(client.handshake_ok()) << client.error();
  const auto started = SteadyClock::now();
  const std::string text = request("/hello");
  bool cut_off = false;
  for (const char byte : text) {
    if (!client.send(std::string_view(&byte, 1)) || closed_within(client.fd(), 100ms)) {
      cut_off = true;
      break;
    }
  }
  EXPECT_TRUE(cut_off);
  EXPECT_LT(SteadyClock::now() - started, 1500ms);
}

TEST_F(HttpServerTlsTest, OversizedHeaderOverTlsGets431) {
  start(web_config(""));
  TlsClient client(port(), trusting());
  ASSERT_TRUE(client.handshake_ok()) << client.error();
  client.send(request("/hello", "X-Padding: " + std::string(20 * 1024, 'a') + "\r\n"));
  const Reply reply = client.reply();
  EXPECT_EQ(reply.status, 431);
}

TEST_F(HttpServerTlsTest, MinVersionTls13RefusesATls12Client) {
  start(web_config("  min_version: TLS13\n"));
  TlsClient old_client(port(), {ca_.cert, "127.0.0.1", {}, {}, TLS1_2_VERSION});
  EXPECT_FALSE(old_client.handshake_ok());
  TlsClient client(port(), trusting());
  EXPECT_TRUE(client.handshake_ok()) << client.error();
}

TEST_F(HttpServerTlsTest, RequiredClientCertificateMustBeFromTheClientCa) {
  start(web_config("  client_ca_file: " + ca_.cert.string() +
                   "\n  client_auth_type: RequireAndVerifyClientCert\n"));
  {
    TlsClient with_cert(port(), {ca_.cert, "127.0.0.1", client_.cert, client_.key, 0});
    ASSERT_TRUE(with_cert.handshake_ok()) << with_cert.error();
    ASSERT_TRUE(with_cert.send(request("/hello")));
    EXPECT_EQ(with_cert.reply().status, 200);
  }
  // Under TLS 1.3 the refusal arrives on the client's first read.
  for (const TlsClientOptions& options :
       {TlsClientOptions{ca_.cert, "127.0.0.1", {}, {}, 0},
        TlsClientOptions{ca_.cert, "127.0.0.1", stranger_.cert, stranger_.key, 0}}) {
    TlsClient client(port(), options);
    if (!client.handshake_ok()) continue;
    client.send(request("/hello"));
    const Reply reply = client.reply();
    EXPECT_TRUE(reply.closed);
    EXPECT_EQ(reply.status, 0);
  }
}

TEST_F(HttpServerTlsTest, NewWebConfigServesTheNewCertificateToNewConnections) {
  start(web_config(""));
  TlsClient before(port(), trusting());
  ASSERT_TRUE(before.handshake_ok()) << before.error();

  const WebConfig rotated = web_config("", &other_server_);
  on_io([&] { server_->set_web_config(rotated); });
  TlsClient after(port(), {other_ca_.cert, "127.0.0.1", {}, {}, 0});
  ASSERT_TRUE(after.handshake_ok()) << after.error();
  ASSERT_TRUE(after.send(request("/hello")));
  EXPECT_EQ(after.reply().status, 200);
  // The connection made before keeps its session.
  ASSERT_TRUE(before.send(request("/hello")));
  EXPECT_EQ(before.reply().status, 200);
}

// ---- basic auth (over TLS, as it should be used) -------------------------------

class HttpServerAuthTest : public HttpServerTlsTest {
 protected:
  void start_with_users(const std::string& users) {
    start(web_config("basic_auth_users:\n" + users));
  }
  Reply get(const std::string& text, bool head_only = false) {
    TlsClient client(port(), trusting());
    if (!client.handshake_ok()) throw std::runtime_error(client.error());
    client.send(text);
    return client.reply(head_only);
  }
};

TEST_F(HttpServerAuthTest, MissingCredentialsGet401WithAChallenge) {
  start_with_users("  prometheus: " + std::string(kHash) + "\n");
  const Reply reply = get(request("/hello"));
  EXPECT_EQ(reply.status, 401);
  EXPECT_THAT(reply.head,
              HasSubstr("WWW-Authenticate: Basic realm=\"meshprobe\", charset=\"UTF-8\"\r\n"));
  EXPECT_THAT(reply.head, HasSubstr("Cache-Control: no-store\r\n"));
  EXPECT_THAT(reply.body, Not(HasSubstr("hello")));
}

TEST_F(HttpServerAuthTest, APostNeedsCredentialsLikeAGet) {
  start_with_users("  prometheus: " + std::string(kHash) + "\n");
  EXPECT_EQ(get(request("/hello", "", "POST")).status, 401);
  EXPECT_EQ(get(request("/hello", basic("prometheus:s3cret-pass"), "POST")).status, 200);
}

TEST_F(HttpServerAuthTest, RightPasswordIsServedWrongOnesAre401) {
  start_with_users("  prometheus: " + std::string(kHash) + "\n");
  EXPECT_EQ(get(request("/hello", basic("prometheus:s3cret-pass"))).status, 200);
  EXPECT_EQ(get(request("/hello", basic("prometheus:s3cret-pasS"))).status, 401);
  EXPECT_EQ(get(request("/hello", basic("prometheus:"))).status, 401);
  EXPECT_EQ(get(request("/hello", basic("grafana:s3cret-pass"))).status, 401);
  EXPECT_EQ(get(request("/hello", basic("Prometheus:s3cret-pass"))).status, 401);
  // Malformed: not base64, no colon, another scheme.
  EXPECT_EQ(get(request("/hello", "Authorization: Basic !!!!\r\n")).status, 401);
  EXPECT_EQ(get(request("/hello", basic("prometheus"))).status, 401);
  EXPECT_EQ(get(request("/hello", "Authorization: Bearer s3cret-pass\r\n")).status, 401);
  // The scheme is case-insensitive (RFC 7235).
  std::string lower = basic("prometheus:s3cret-pass");
  lower.replace(lower.find("Basic"), 5, "basic");
  EXPECT_EQ(get(request("/hello", lower)).status, 200);
}

TEST_F(HttpServerAuthTest, HeadIsRefusedWithoutABody) {
  start_with_users("  prometheus: " + std::string(kHash) + "\n");
  TlsClient client(port(), trusting());
  ASSERT_TRUE(client.handshake_ok());
  ASSERT_TRUE(client.send(request("/hello", "", "HEAD")));
  const Reply refused = client.reply(/*head_only=*/true);
  EXPECT_EQ(refused.status, 401);
  // The next answer on the connection starts right after the headers.
  ASSERT_TRUE(client.send(request("/hello", basic("prometheus:s3cret-pass"))));
  const Reply next = client.reply();
  EXPECT_EQ(next.status, 200);
  EXPECT_EQ(next.body, "hello");
}

TEST_F(HttpServerAuthTest, PathsWithoutAuthNeedNoCredentials) {
  start_with_users("  prometheus: " + std::string(kHash) + "\n");
  EXPECT_EQ(get(request("/healthz")).status, 200);
  EXPECT_EQ(get(request("/healthz?verbose")).status, 200);
  EXPECT_EQ(get(request("/healthz/")).status, 401);  // exact paths only
  EXPECT_EQ(get(request("/nowhere")).status, 401);   // no probing for paths
}

TEST_F(HttpServerAuthTest, ARemovedUserIsRefusedOnAnOpenConnection) {
  start_with_users("  prometheus: " + std::string(kHash) + "\n");
  TlsClient client(port(), trusting());
  ASSERT_TRUE(client.handshake_ok());
  ASSERT_TRUE(client.send(request("/hello", basic("prometheus:s3cret-pass"))));
  ASSERT_EQ(client.reply().status, 200);
  const WebConfig next = web_config("basic_auth_users:\n  grafana: " + std::string(kHash) + "\n");
  on_io([&] { server_->set_web_config(next); });
  ASSERT_TRUE(client.send(request("/hello", basic("prometheus:s3cret-pass"))));
  EXPECT_EQ(client.reply().status, 401);
  ASSERT_TRUE(client.send(request("/hello", basic("grafana:s3cret-pass"))));
  EXPECT_EQ(client.reply().status, 200);
}

TEST_F(HttpServerAuthTest, PasswordChecksDoNotBlockOtherClients) {
  start_with_users("  slow: " + std::string(kSlowHash) + "\n");
  // A wrong password: a full cost-13 bcrypt (about half a second).
  TlsClient guessing(port(), trusting());
  ASSERT_TRUE(guessing.handshake_ok());
  ASSERT_TRUE(guessing.send(request("/hello", basic("slow:guess"))));
  std::this_thread::sleep_for(20ms);  // the check is under way
  const auto started = SteadyClock::now();
  EXPECT_EQ(get(request("/healthz")).status, 200);
  const auto healthz_took = SteadyClock::now() - started;
  EXPECT_EQ(guessing.reply().status, 401);
  const auto guess_took = SteadyClock::now() - started;
  EXPECT_LT(healthz_took, guess_took);
}

TEST_F(HttpServerAuthTest, AMatchedPasswordIsNotCheckedAgain) {
  start_with_users("  slow: " + std::string(kSlowHash) + "\n");
  const std::string credentials = basic("slow:s3cret-pass");
  auto started = SteadyClock::now();
  ASSERT_EQ(get(request("/hello", credentials)).status, 200);
  const auto first = SteadyClock::now() - started;
  started = SteadyClock::now();
  ASSERT_EQ(get(request("/hello", credentials)).status, 200);
  const auto second = SteadyClock::now() - started;
  EXPECT_LT(second * 3, first);
  // Remembered for that password only.
  EXPECT_EQ(get(request("/hello", basic("slow:s3cret-pasS"))).status, 401);
}

TEST(HttpServerWebConfigTest, BasicAuthWorksWithoutTlsToo) {
  test::TempDir dir;
  test::write_file(dir.path() / "web.yml",
                   "basic_auth_users:\n  prometheus: " + std::string(kHash) + "\n");
  HttpServerOptions options;
  options.web = load_web_config((dir.path() / "web.yml").string());
  asio::io_context io;
  HttpServer server(io, "127.0.0.1", 0, routes, options);
  EXPECT_FALSE(server.tls());
  std::thread runner([&] { io.run_for(3s); });
  const UniqueFd client = connect_to(server.port());
  ASSERT_TRUE(send_raw(client, request("/hello", "Connection: close\r\n")));
  std::string data;
  closed_within(client, 3s, &data);
  EXPECT_THAT(data, StartsWith("HTTP/1.1 401 "));
  const UniqueFd authorized = connect_to(server.port());
  ASSERT_TRUE(send_raw(
      authorized, request("/hello", basic("prometheus:s3cret-pass") + "Connection: close\r\n")));
  data.clear();
  closed_within(authorized, 3s, &data);
  EXPECT_THAT(data, StartsWith("HTTP/1.1 200 "));
  asio::post(io, [&] {
    server.stop();
    io.stop();
  });
  runner.join();
}

TEST(HttpServerWebConfigTest, BadTlsFilesAreRefusedBeforeBinding) {
  test::TempDir dir;
  const test::TestCa ca = test::TestCa::create("ca");
  const test::PemFiles server = ca.issue({"x", {"127.0.0.1"}, {}}).write(dir.path(), "server");
  HttpServerOptions options;
  options.web.source = (dir.path() / "web.yml").string();
  options.web.tls.emplace();
  options.web.tls->cert_file = server.cert.string();
  options.web.tls->key_file = server.cert.string();  // not a key
  asio::io_context io;
  EXPECT_THROW(HttpServer(io, "127.0.0.1", 0, routes, options), std::runtime_error);
}

}  // namespace
}  // namespace meshprobe
