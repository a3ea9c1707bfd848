// A small HTTP/1.1 server for the agent's endpoint: bounded request sizes,
// read timeouts, one coroutine per connection on the agent's io_context.
// Beast stays behind this interface.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

namespace boost::asio {
class io_context;
}

namespace meshprobe {

struct HttpRequest {
  std::string method;
  std::string path;    // without the query
  std::string query;
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
};

using HttpHandler = std::function<HttpResponse(const HttpRequest&)>;

struct HttpServerOptions {
  std::size_t max_header_bytes = 8 * 1024;
  std::size_t max_body_bytes = 0;  // GET-only endpoint: no request bodies
  std::chrono::milliseconds read_timeout{10000};
  std::size_t max_connections = 64;
};

class HttpServer {
 public:
  // Binds and listens at once (throws std::system_error on failure, e.g. the
  // port is in use); serves once the io_context runs.
  HttpServer(boost::asio::io_context& io, const std::string& host, std::uint16_t port,
             HttpHandler handler, HttpServerOptions options = {});
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  std::uint16_t port() const;  // the bound port (useful with port 0)
  // Stops accepting and closes open connections.
  void stop();

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace meshprobe
