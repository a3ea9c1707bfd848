// A small HTTP/1.1 server for the agent's endpoint: bounded request sizes,
// read timeouts, one coroutine per connection on the agent's io_context,
// optional TLS and basic auth. Beast, Asio and OpenSSL stay behind this
// interface.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "config/web_config.h"

namespace boost::asio {
class io_context;
}

namespace meshprobe {

struct HttpRequest {
  std::string method;
  std::string path;  // without the query
  std::string query;
  std::string accept_encoding{};  // the Accept-Encoding header's value; empty: none
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
  // Sent as Content-Encoding (with Vary: Accept-Encoding) when not empty;
  // the body must already be encoded so.
  std::string content_encoding{};
  // When set, the body is this instead of `body`, produced in parts as the
  // client takes them (chunked transfer coding): each call appends the next
  // part to `out` and returns whether more follows. A large body then goes
  // out while it is being written, and the event loop runs between parts.
  std::function<bool(std::string& out)> stream{};
};

using HttpHandler = std::function<HttpResponse(const HttpRequest&)>;

struct HttpServerOptions {
  std::size_t max_header_bytes = 8 * 1024;
  std::size_t max_body_bytes = 0;  // GET-only endpoint: no request bodies
  std::chrono::milliseconds read_timeout{10000};
  std::size_t max_connections = 64;
  // TLS and basic auth (exporter-toolkit's web config); the default is plain
  // HTTP without authentication. The TLS handshake runs under read_timeout
  // and in a connection slot like a request.
  WebConfig web;
  // Paths answered without credentials when basic auth is on (exact match).
  std::vector<std::string> paths_without_auth;
  // Paths that take POST (with no body) besides GET and HEAD: the
  // lifecycle API's /-/reload. The handler answers each method itself.
  std::vector<std::string> paths_with_post;
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
  bool tls() const;            // whether new connections get TLS
  // Replaces TLS and basic auth for what comes next: new connections get
  // the new TLS context, every later request the new users (so a removed
  // user is refused on an open keep-alive connection too). `web` comes from
  // load_web_config, with its TLS context already built.
  void set_web_config(const WebConfig& web);
  // Stops accepting and closes open connections.
  void stop();

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace meshprobe
