// One accept loop and one Connection object per client, all coroutines on the
// agent's io_context: no threads, no locks. Every read and write runs under a
// deadline, every request under size limits, so a slow or hostile client
// costs one bounded slot and never a hang.
//
// An idle keep-alive connection is closed once read_timeout passes without a
// new request; a write gets the same time, so a client that does not read
// cannot hold its slot either.
//
// At most max_connections clients are served at once. A client beyond that is
// accepted and closed at once: left in the listen backlog it would wait for an
// unknown time, while an immediate close lets a scraper or the kubelet retry.
//
// With TLS, the handshake is read under the same deadline and in the same
// slot as a request: a client that never finishes it is cut off like one
// that never finishes its headers. A plain HTTP request to the TLS port gets
// one plain 400 saying so (a scrape config with the wrong scheme).
//
// With basic auth, each request's credentials are checked before its handler
// runs (basic_auth.h: bcrypt on one worker thread, never on the event loop).
#include "agent/http/http_server.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/detect_ssl.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/chunk_encode.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <openssl/ssl.h>

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <limits>
#include <optional>
#include <set>
#include <system_error>
#include <unordered_map>

#include "agent/http/basic_auth.h"

namespace meshprobe {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using boost::system::error_code;
constexpr auto kNoThrow = asio::as_tuple(asio::use_awaitable);

// After an error answer the client may still be sending (the rest of an
// oversized header). Closing with unread data would reset the connection and
// could destroy the answer before the client reads it, so the rest is read
// and dropped first, within these bounds.
constexpr std::size_t kMaxDrainBytes = 64 * 1024;
constexpr std::chrono::milliseconds kMaxDrainTime{1000};

// accept() fails without a connection when the process is out of
// descriptors; pausing keeps the loop from spinning until one frees.
constexpr std::chrono::milliseconds kAcceptErrorPause{100};

// One descriptor held in reserve for the endpoint. When probes have taken
// every descriptor (thousands of targets under a low `ulimit -n`), accept()
// fails while the kubelet's /healthz waits in the listen backlog; a
// descriptor freed by a probe is taken by the next probe before a paused
// accept loop retries. The reserve is given up for exactly one accept.
class ReserveDescriptor {
 public:
  ReserveDescriptor() { take(); }
  ~ReserveDescriptor() { release(); }
  ReserveDescriptor(const ReserveDescriptor&) = delete;
  ReserveDescriptor& operator=(const ReserveDescriptor&) = delete;

  bool held() const { return fd_ >= 0; }
  // Takes a descriptor back if none is held (after a connection closed, the
  // lowest free number is the one it just gave back).
  void take() {
    if (fd_ < 0) fd_ = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  }
  void release() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_ = -1;
};

bool out_of_descriptors(const error_code& error) {
  return error == asio::error::no_descriptors ||
         (error.category() == asio::error::get_system_category() && error.value() == ENFILE);
}

using Request = http::request<http::string_body>;
using Response = http::response<http::string_body>;

tcp::endpoint listen_endpoint(const std::string& host, std::uint16_t port) {
  return {asio::ip::make_address(host), port};  // throws on a non-literal host
}

// A handler's status as Beast takes it: anything outside the HTTP range is a
// bug in the handler, reported as such.
unsigned response_status(int status) {
  return status >= 100 && status <= 599 ? static_cast<unsigned>(status) : 500U;
}

// 1xx, 204 and 304 answers carry no body; Beast refuses to frame one.
bool allows_body(unsigned status) { return status >= 200 && status != 204 && status != 304; }

// Splits "/status?x=1" into the path and the query.
HttpRequest to_http_request(const Request& request) {
  const std::string_view target = request.target();
  const std::size_t question = target.find('?');
  HttpRequest out;
  out.method = std::string(request.method_string());
  out.path = std::string(target.substr(0, question));
  if (question != std::string_view::npos) {
    out.query = std::string(target.substr(question + 1));
  }
  out.accept_encoding = std::string(request[http::field::accept_encoding]);
  return out;
}

std::string_view path_of(const Request& request) {
  const std::string_view target = request.target();
  return target.substr(0, target.find('?'));
}

// The server's TLS context for `web`, or null for plain HTTP. Throws
// ConfigError on a TLS file that does not load.
std::shared_ptr<asio::ssl::context> tls_context(const WebConfig& web) {
  if (!web.tls) return nullptr;
  std::shared_ptr<ssl_ctx_st> native = web.tls->context;
  if (!native) native = make_server_tls_context(*web.tls, web.source);
  // asio's context takes a reference of its own.
  SSL_CTX_up_ref(native.get());
  return std::make_shared<asio::ssl::context>(native.get());
}

Response plain_response(http::status status, std::string_view text) {
  Response response{status, 11};
  response.set(http::field::content_type, "text/plain; charset=utf-8");
  response.body() = std::string(text) + '\n';
  return response;
}

Response unauthorized_response() {
  Response response = plain_response(http::status::unauthorized, "unauthorized");
  response.set(http::field::www_authenticate, "Basic realm=\"meshprobe\", charset=\"UTF-8\"");
  return response;
}

// The answer to a request that could not be parsed, or nullopt when the
// connection just ended (closed, reset, timed out) and there is no one to tell.
std::optional<Response> answer_to_read_error(const error_code& error) {
  if (error == http::error::header_limit || error == http::error::buffer_overflow) {
    return plain_response(http::status::request_header_fields_too_large,
                          "request header too large");
  }
  if (error == http::error::body_limit || error == http::error::unexpected_body) {
    return plain_response(http::status::payload_too_large, "request body too large");
  }
  const bool ended = error == http::error::end_of_stream || error == http::error::partial_message;
  if (error.category() == http::make_error_code(http::error::bad_target).category() && !ended) {
    return plain_response(http::status::bad_request, "malformed request");
  }
  return std::nullopt;
}

std::uint32_t header_limit(std::size_t bytes) {
  return static_cast<std::uint32_t>(
      std::min<std::size_t>(bytes, std::numeric_limits<std::uint32_t>::max()));
}

}  // namespace

struct HttpServer::Impl : std::enable_shared_from_this<Impl> {
  class Connection;

  Impl(asio::io_context& io_context, const tcp::endpoint& endpoint, HttpHandler request_handler,
       HttpServerOptions server_options)
      : io(io_context),
        acceptor(io_context),
        handler(std::move(request_handler)),
        options(std::move(server_options)),
        paths_without_auth(options.paths_without_auth.begin(), options.paths_without_auth.end()) {
    set_web_config(options.web);  // before binding: a bad TLS file throws
    acceptor.open(endpoint.protocol());
    acceptor.set_option(asio::socket_base::reuse_address(true));
    acceptor.bind(endpoint);
    acceptor.listen();
  }

  void start() { asio::co_spawn(io, accept_loop(shared_from_this()), asio::detached); }

  void stop();
  asio::awaitable<void> accept_loop(std::shared_ptr<Impl> self);
  HttpResponse handle(const HttpRequest& request) const;
  asio::awaitable<bool> authorized(const Request& request);

  // TLS and the users are replaced together, and neither when the TLS
  // files do not load.
  void set_web_config(const WebConfig& web) {
    std::shared_ptr<asio::ssl::context> next = tls_context(web);
    tls = std::move(next);
    auth.set_users(web.basic_auth_users);
  }

  asio::io_context& io;
  tcp::acceptor acceptor;
  ReserveDescriptor reserve;
  HttpHandler handler;
  HttpServerOptions options;
  std::set<std::string, std::less<>> paths_without_auth;
  std::shared_ptr<asio::ssl::context> tls;  // for new connections; null: plain HTTP
  BasicAuth auth;
  bool stopped = false;
  // Open connections, so stop() can close them; each removes itself when it
  // is destroyed.
  std::unordered_map<const Connection*, std::weak_ptr<Connection>> connections;
};

// One client: requests in a loop while it keeps the connection alive.
class HttpServer::Impl::Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(std::shared_ptr<Impl> server, tcp::socket socket)
      : server_(std::move(server)),
        options_(server_->options),
        stream_(std::move(socket)),
        // The header and body limits bound what a request may need; the
        // buffer's own limit only stops pipelined data from piling up.
        buffer_(options_.max_header_bytes + options_.max_body_bytes + 4096),
        tls_context_(server_->tls) {}

  ~Connection() {
    close();  // before the reserve is taken back: its descriptor is the one freed
    server_->connections.erase(this);
    server_->reserve.take();
  }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  asio::awaitable<void> run(std::shared_ptr<Connection> /*keep_alive*/) {
    if (tls_context_ && !co_await start_tls()) {
      close();
      co_return;
    }
    for (;;) {
      http::request_parser<http::string_body> parser;
      parser.header_limit(header_limit(options_.max_header_bytes));
      parser.body_limit(options_.max_body_bytes);

      const error_code read_error = co_await read(parser);
      if (read_error) {
        std::optional<Response> answer = answer_to_read_error(read_error);
        if (answer) co_await answer_and_close(std::move(*answer));
        break;
      }
      // A read that completed just before stop() must not reach the handler:
      // the agent may already be tearing down what the handler reads.
      if (server_->stopped) break;
      const bool allowed = co_await server_->authorized(parser.get());
      if (server_->stopped) break;  // the password check took a while

      std::function<bool(std::string&)> stream;
      Response response = allowed ? respond(parser.get(), stream) : refuse(parser.get());
      const bool keep_alive = response.keep_alive();
      const error_code write_error =
          stream ? co_await write_streamed(response, stream) : co_await write(response);
      if (write_error) break;
      if (!keep_alive) {
        if (tls_) co_await shutdown_tls();
        break;
      }
    }
    close();
  }

  void close() {
    error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream_.close();
  }

 private:
  // Reads what starts the connection: a TLS handshake, or -- from a client
  // that was told the wrong scheme -- plain HTTP, answered with a 400.
  asio::awaitable<bool> start_tls() {
    stream_.expires_after(options_.read_timeout);
    const auto [detect_error, is_tls] =
        co_await beast::async_detect_ssl(stream_, buffer_, kNoThrow);
    if (detect_error || server_->stopped) co_return false;
    if (!is_tls) {
      co_await answer_and_close(
          plain_response(http::status::bad_request,
                         "this endpoint speaks HTTPS: the client sent plain HTTP (use https://)"));
      co_return false;
    }
    tls_.emplace(stream_, *tls_context_);
    const auto [handshake_error, used] =
        co_await tls_->async_handshake(asio::ssl::stream_base::server, buffer_.data(), kNoThrow);
    if (handshake_error) co_return false;
    buffer_.consume(used);
    co_return true;
  }

  // close_notify, so a client reading to the end sees a clean close; bounded
  // like a drain, since it waits for the client's own close_notify.
  asio::awaitable<void> shutdown_tls() {
    stream_.expires_after(
        std::min<std::chrono::milliseconds>(kMaxDrainTime, options_.read_timeout));
    co_await tls_->async_shutdown(kNoThrow);
  }

  asio::awaitable<error_code> read(http::request_parser<http::string_body>& parser) {
    stream_.expires_after(options_.read_timeout);
    if (tls_) {
      const auto [error, bytes] = co_await http::async_read(*tls_, buffer_, parser, kNoThrow);
      co_return error;
    }
    const auto [error, bytes] = co_await http::async_read(stream_, buffer_, parser, kNoThrow);
    co_return error;
  }

  asio::awaitable<error_code> write(Response& response) {
    stream_.expires_after(options_.read_timeout);
    if (tls_) {
      const auto [error, bytes] = co_await http::async_write(*tls_, response, kNoThrow);
      co_return error;
    }
    const auto [error, bytes] = co_await http::async_write(stream_, response, kNoThrow);
    co_return error;
  }

  // The headers of `response` with chunked transfer coding, then the parts
  // `stream` produces, each written before the next is made. Every write is
  // bounded by the timeout; the agent stopping ends it between parts.
  asio::awaitable<error_code> write_streamed(Response& response,
                                             const std::function<bool(std::string&)>& stream) {
    http::response<http::empty_body> head{response.result(), response.version()};
    head.base() = response.base();
    head.erase(http::field::content_length);
    head.chunked(true);
    http::response_serializer<http::empty_body> serializer{head};
    stream_.expires_after(options_.read_timeout);
    const auto [header_error, header_bytes] =
        tls_ ? co_await http::async_write_header(*tls_, serializer, kNoThrow)
             : co_await http::async_write_header(stream_, serializer, kNoThrow);
    if (header_error) co_return header_error;
    std::string part;
    for (bool more = true; more;) {
      if (server_->stopped) co_return asio::error::operation_aborted;
      part.clear();
      more = stream(part);
      if (part.empty()) continue;  // a zero-size chunk would end the body
      if (const error_code error = co_await write_raw(http::make_chunk(asio::buffer(part))))
        co_return error;
    }
    co_return co_await write_raw(http::make_chunk_last());
  }

  template <class Buffers>
  asio::awaitable<error_code> write_raw(const Buffers& buffers) {
    stream_.expires_after(options_.read_timeout);
    const auto [error, bytes] = tls_ ? co_await asio::async_write(*tls_, buffers, kNoThrow)
                                     : co_await asio::async_write(stream_, buffers, kNoThrow);
    co_return error;
  }

  Response respond(const Request& request, std::function<bool(std::string&)>& stream) const {
    const bool head = request.method() == http::verb::head;
    bool streamed = false;
    Response response;
    if (!head && request.method() != http::verb::get && !takes_post(request)) {
      response = plain_response(http::status::method_not_allowed, "method not allowed");
      response.set(http::field::allow, "GET, HEAD");
    } else {
      HttpResponse answer = server_->handle(to_http_request(request));
      response.result(response_status(answer.status));
      response.set(http::field::content_type, answer.content_type);
      if (!answer.content_encoding.empty()) {
        response.set(http::field::content_encoding, answer.content_encoding);
        response.set(http::field::vary, "Accept-Encoding");
      }
      if (allows_body(response.result_int())) {
        if (answer.stream) {
          streamed = true;
          if (!head) stream = std::move(answer.stream);
        } else {
          response.body() = std::move(answer.body);
        }
      }
    }
    response.version(request.version());
    response.keep_alive(request.keep_alive());
    response = finish(std::move(response), head);
    if (streamed) {
      // Its length is known only at its end: chunked (write_streamed); a
      // HEAD answer has no length to give and closes the connection instead.
      response.erase(http::field::content_length);
      if (head) response.keep_alive(false);
    }
    return response;
  }

  bool takes_post(const Request& request) const {
    if (request.method() != http::verb::post) return false;
    const auto& paths = options_.paths_with_post;
    return std::find(paths.begin(), paths.end(), path_of(request)) != paths.end();
  }

  static Response refuse(const Request& request) {
    Response response = unauthorized_response();
    response.version(request.version());
    response.keep_alive(request.keep_alive());
    return finish(std::move(response), request.method() == http::verb::head);
  }

  // Headers every answer carries; HEAD keeps the length but not the body.
  static Response finish(Response response, bool head) {
    response.set(http::field::cache_control, "no-store");
    response.set("X-Content-Type-Options", "nosniff");
    response.prepare_payload();
    if (head) response.body().clear();
    return response;
  }

  asio::awaitable<void> answer_and_close(Response response) {
    response.keep_alive(false);
    response = finish(std::move(response), false);
    const error_code write_error = co_await write(response);
    if (!write_error) co_await drain();
  }

  // Reads and drops what the client still sends, until it closes or a bound
  // is reached; see kMaxDrainBytes. Under TLS the records are dropped
  // undecrypted: only the socket's state matters here.
  asio::awaitable<void> drain() {
    error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
    stream_.expires_after(
        std::min<std::chrono::milliseconds>(kMaxDrainTime, options_.read_timeout));
    std::array<char, 4096> scratch;
    std::size_t drained = 0;
    while (drained < kMaxDrainBytes) {
      const auto [error, bytes] = co_await stream_.async_read_some(asio::buffer(scratch), kNoThrow);
      if (error) break;
      drained += bytes;
    }
  }

  std::shared_ptr<Impl> server_;
  const HttpServerOptions& options_;
  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  // The context this connection's TLS started with (a reload may replace
  // the server's meanwhile); declared before the stream that uses it.
  std::shared_ptr<asio::ssl::context> tls_context_;
  std::optional<asio::ssl::stream<beast::tcp_stream&>> tls_;
};

asio::awaitable<bool> HttpServer::Impl::authorized(const Request& request) {
  if (paths_without_auth.contains(path_of(request))) co_return true;
  co_return co_await auth.allows(request[http::field::authorization]);
}

HttpResponse HttpServer::Impl::handle(const HttpRequest& request) const {
  // A failing handler costs one request, never the server.
  try {
    return handler(request);
  } catch (...) {
    HttpResponse failure;
    failure.status = 500;
    failure.body = "internal error\n";
    return failure;
  }
}

asio::awaitable<void> HttpServer::Impl::accept_loop(std::shared_ptr<Impl> self) {
  while (!stopped) {
    auto [error, socket] = co_await acceptor.async_accept(kNoThrow);
    if (stopped || error == asio::error::operation_aborted) break;
    if (out_of_descriptors(error) && reserve.held()) {
      // The one connection that is waiting, on the reserve's descriptor;
      // non-blocking, in case its client has gone meanwhile.
      reserve.release();
      acceptor.non_blocking(true, error);
      acceptor.accept(socket, error);
      error_code ignored;
      acceptor.non_blocking(false, ignored);
      if (error) reserve.take();
    }
    if (error) {
      asio::steady_timer pause(io, kAcceptErrorPause);
      co_await pause.async_wait(kNoThrow);
      reserve.take();
      continue;
    }
    if (connections.size() >= options.max_connections) {
      error_code ignored;
      socket.close(ignored);
      reserve.take();
      continue;
    }
    auto connection = std::make_shared<Connection>(self, std::move(socket));
    connections.emplace(connection.get(), connection);
    asio::co_spawn(io, connection->run(connection), asio::detached);
  }
}

void HttpServer::Impl::stop() {
  stopped = true;
  error_code ignored;
  acceptor.close(ignored);
  // Checks already queued finish and hand their answer back to the event
  // loop, where the waiting connection sees `stopped` and ends; none is
  // started after this.
  auth.stop();
  // Copied first: a connection closed here may end and unregister itself.
  std::vector<std::shared_ptr<Connection>> open;
  for (const auto& [key, weak] : connections) {
    if (auto connection = weak.lock()) open.push_back(std::move(connection));
  }
  for (const auto& connection : open) connection->close();
}

HttpServer::HttpServer(asio::io_context& io, const std::string& host, std::uint16_t port,
                       HttpHandler handler, HttpServerOptions options) {
  // Asio reports with boost::system; callers see the standard exception.
  try {
    impl_ = std::make_shared<Impl>(io, listen_endpoint(host, port), std::move(handler),
                                   std::move(options));
  } catch (const boost::system::system_error& error) {
    throw std::system_error(error.code(), "listen on " + host + ":" + std::to_string(port));
  }
  impl_->start();
}

HttpServer::~HttpServer() { stop(); }

std::uint16_t HttpServer::port() const {
  error_code ignored;
  return impl_->acceptor.local_endpoint(ignored).port();
}

void HttpServer::stop() { impl_->stop(); }

bool HttpServer::tls() const { return impl_->tls != nullptr; }

void HttpServer::set_web_config(const WebConfig& web) { impl_->set_web_config(web); }

}  // namespace meshprobe
