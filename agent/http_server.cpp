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
#include "agent/http_server.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>

#include <algorithm>
#include <array>
#include <limits>
#include <system_error>
#include <unordered_map>

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
bool allows_body(unsigned status) {
  return status >= 200 && status != 204 && status != 304;
}

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
  return out;
}

Response plain_response(http::status status, std::string_view text) {
  Response response{status, 11};
  response.set(http::field::content_type, "text/plain; charset=utf-8");
  response.body() = std::string(text) + '\n';
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
  const bool ended = error == http::error::end_of_stream ||
                     error == http::error::partial_message;
  if (error.category() == http::make_error_code(http::error::bad_target).category() &&
      !ended) {
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

  Impl(asio::io_context& io_context, const tcp::endpoint& endpoint,
       HttpHandler request_handler, HttpServerOptions server_options)
      : io(io_context),
        acceptor(io_context),
        handler(std::move(request_handler)),
        options(server_options) {
    acceptor.open(endpoint.protocol());
    acceptor.set_option(asio::socket_base::reuse_address(true));
    acceptor.bind(endpoint);
    acceptor.listen();
  }

  void start() {
    asio::co_spawn(io, accept_loop(shared_from_this()), asio::detached);
  }

  void stop();
  asio::awaitable<void> accept_loop(std::shared_ptr<Impl> self);
  HttpResponse handle(const HttpRequest& request) const;

  asio::io_context& io;
  tcp::acceptor acceptor;
  HttpHandler handler;
  HttpServerOptions options;
  bool stopped = false;
  // Open connections, so stop() can close them; each removes itself when it
  // is destroyed.
  std::unordered_map<const Connection*, std::weak_ptr<Connection>> connections;
};

// One client: requests in a loop while it keeps the connection alive.
class HttpServer::Impl::Connection
    : public std::enable_shared_from_this<Connection> {
 public:
  Connection(std::shared_ptr<Impl> server, tcp::socket socket)
      : server_(std::move(server)),
        options_(server_->options),
        stream_(std::move(socket)),
        // The header and body limits bound what a request may need; the
        // buffer's own limit only stops pipelined data from piling up.
        buffer_(options_.max_header_bytes + options_.max_body_bytes + 4096) {}

  ~Connection() { server_->connections.erase(this); }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  asio::awaitable<void> run(std::shared_ptr<Connection> /*keep_alive*/) {
    for (;;) {
      http::request_parser<http::string_body> parser;
      parser.header_limit(header_limit(options_.max_header_bytes));
      parser.body_limit(options_.max_body_bytes);

      stream_.expires_after(options_.read_timeout);
      const auto [read_error, read_bytes] =
          co_await http::async_read(stream_, buffer_, parser, kNoThrow);
      if (read_error) {
        std::optional<Response> answer = answer_to_read_error(read_error);
        if (answer) co_await answer_and_close(std::move(*answer));
        break;
      }
      // A read that completed just before stop() must not reach the handler:
      // the agent may already be tearing down what the handler reads.
      if (server_->stopped) break;

      Response response = respond(parser.get());
      const bool keep_alive = response.keep_alive();
      stream_.expires_after(options_.read_timeout);
      const auto [write_error, written] =
          co_await http::async_write(stream_, response, kNoThrow);
      if (write_error || !keep_alive) break;
    }
    close();
  }

  void close() {
    error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream_.close();
  }

 private:
  Response respond(const Request& request) const {
    const bool head = request.method() == http::verb::head;
    Response response;
    if (!head && request.method() != http::verb::get) {
      response = plain_response(http::status::method_not_allowed, "method not allowed");
      response.set(http::field::allow, "GET, HEAD");
    } else {
      HttpResponse answer = server_->handle(to_http_request(request));
      response.result(response_status(answer.status));
      response.set(http::field::content_type, answer.content_type);
      if (allows_body(response.result_int())) response.body() = std::move(answer.body);
    }
    response.version(request.version());
    response.keep_alive(request.keep_alive());
    return finish(std::move(response), head);
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
    stream_.expires_after(options_.read_timeout);
    const auto [write_error, written] =
        co_await http::async_write(stream_, response, kNoThrow);
    if (!write_error) co_await drain();
  }

  // Reads and drops what the client still sends, until it closes or a bound
  // is reached; see kMaxDrainBytes.
  asio::awaitable<void> drain() {
    error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
    stream_.expires_after(std::min<std::chrono::milliseconds>(kMaxDrainTime,
                                                              options_.read_timeout));
    std::array<char, 4096> scratch;
    std::size_t drained = 0;
    while (drained < kMaxDrainBytes) {
      const auto [error, bytes] =
          co_await stream_.async_read_some(asio::buffer(scratch), kNoThrow);
      if (error) break;
      drained += bytes;
    }
  }

  std::shared_ptr<Impl> server_;
  const HttpServerOptions& options_;
  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
};

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
    if (error) {
      asio::steady_timer pause(io, kAcceptErrorPause);
      co_await pause.async_wait(kNoThrow);
      continue;
    }
    if (connections.size() >= options.max_connections) {
      error_code ignored;
      socket.close(ignored);
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
  // Copied first: a connection closed here may end and unregister itself.
  std::vector<std::shared_ptr<Connection>> open;
  for (const auto& [key, weak] : connections) {
    if (auto connection = weak.lock()) open.push_back(std::move(connection));
  }
  for (const auto& connection : open) connection->close();
}

HttpServer::HttpServer(asio::io_context& io, const std::string& host,
                       std::uint16_t port, HttpHandler handler,
                       HttpServerOptions options) {
  // Asio reports with boost::system; callers see the standard exception.
  try {
    impl_ = std::make_shared<Impl>(io, listen_endpoint(host, port),
                                   std::move(handler), options);
  } catch (const boost::system::system_error& error) {
    throw std::system_error(error.code(), "listen on " + host + ":" +
                                              std::to_string(port));
  }
  impl_->start();
}

HttpServer::~HttpServer() { stop(); }

std::uint16_t HttpServer::port() const {
  error_code ignored;
  return impl_->acceptor.local_endpoint(ignored).port();
}

void HttpServer::stop() { impl_->stop(); }

}  // namespace meshprobe
