// Servers that attack the client instead of serving it: each accepted
// connection runs a script the test writes out of small primitives (trickle
// bytes, reset, stay silent, write forever), and TLS runs over memory BIOs so
// the script also decides when and how the handshake's bytes go out.
// Threads per connection, like TlsTestServer; the destructor stops every
// script promptly, whatever the client does.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "test/support/openssl_util.h"

namespace meshprobe::test {

class StopSignal;

// One accepted connection as the script sees it. Every wait yields to the
// server's stop; a method returning false means the peer went away, the wait
// timed out, or the server is stopping — the script should just return.
class HostileConnection {
 public:
  // The longest any single read waits for the client.
  static constexpr std::chrono::milliseconds kReadTimeout{10'000};

  // Takes ownership of `fd`; adds what it sends to `bytes_sent`.
  HostileConnection(int fd, const StopSignal& stop, std::atomic<std::uint64_t>& bytes_sent);

  int fd() const { return fd_; }

  // Sends all of `data`.
  bool send(std::string_view data);
  // Sends `data` one byte per `interval`.
  bool trickle(std::string_view data, std::chrono::milliseconds interval);
  // Waits `duration`; false when the server stops first.
  bool pause(std::chrono::milliseconds duration);
  // Bytes from the client, at most `max` of them; empty when it closed, the
  // wait timed out or the server stops.
  std::string read_some(std::size_t max = 16 * 1024);
  // One whole TLS record (header and body): the client's first flight is its
  // ClientHello. nullopt when something else or nothing arrived.
  std::optional<std::string> read_tls_record();
  // Reads and discards until the client closes or the server stops.
  void hold();
  // Closes with SO_LINGER 0: the client sees a TCP RST, not a FIN.
  void reset();
  // A small, fixed send buffer (no autotuning), so what send() accepts is
  // close to what the client has taken in.
  void limit_send_buffer(int bytes);

  ~HostileConnection();
  HostileConnection(const HostileConnection&) = delete;
  HostileConnection& operator=(const HostileConnection&) = delete;

 private:
  int fd_;
  const StopSignal& stop_;
  std::atomic<std::uint64_t>& bytes_sent_;
};

using HostileScript = std::function<void(HostileConnection&)>;

class HostileServer {
 public:
  // Listens on `listen_ip` (an ephemeral port) before returning.
  explicit HostileServer(HostileScript script, std::string listen_ip = "127.0.0.1");
  ~HostileServer();
  HostileServer(const HostileServer&) = delete;
  HostileServer& operator=(const HostileServer&) = delete;

  std::uint16_t port() const;
  // Connections accepted so far.
  int connections() const;
  // Bytes the kernel accepted from every script so far (sent or buffered).
  std::uint64_t bytes_sent() const;
  // Waits until every accepted connection's script has returned; false when
  // one is still running after `timeout`.
  bool wait_until_idle(std::chrono::milliseconds timeout) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// A TLS server context serving `chain_pem` (leaf first) with `key_pem`; no
// ALPN. Tests narrow versions and ciphers on it as they need.
SslCtxPtr make_hostile_tls_context(const std::string& chain_pem, const std::string& key_pem);

// The server side of TLS over memory BIOs on a HostileConnection: OpenSSL
// never touches the socket, the script sends what it produces.
class ServerTls {
 public:
  ServerTls(HostileConnection& connection, SSL_CTX* ctx);

  // Reads the ClientHello and returns the server's first flight (under TLS
  // 1.3: ServerHello through Finished, certificates included), not sent yet.
  // nullopt when the client went away or OpenSSL produced nothing.
  std::optional<std::string> first_flight();
  // Runs the handshake to its end, sending what OpenSSL produces at once
  // (an alert too, when the handshake fails). After first_flight(), the
  // script must have sent that flight itself.
  bool handshake();
  // Reads the client's request up to and including its blank line.
  std::optional<std::string> read_request_head();
  // Encrypts and sends `plaintext` (records of up to 16 KiB).
  bool write(std::string_view plaintext);
  // One TLS record per byte of `plaintext`, one record per `interval`.
  bool write_trickled(std::string_view plaintext, std::chrono::milliseconds interval);

 private:
  bool flush();
  bool fill();

  HostileConnection& connection_;
  SslPtr ssl_;
  BIO* in_;   // owned by ssl_
  BIO* out_;  // owned by ssl_
};

// A blocking client handshake with `ctx` to 127.0.0.1:`port`: the negotiated
// version ("TLSv1"), or empty when the handshake failed. Proves what a
// hostile server really speaks before a test relies on it.
std::string negotiated_version(std::uint16_t port, SSL_CTX* ctx);

// A self-signed certificate whose size is about `padding_bytes`: the bytes go
// into a private, non-critical extension. Filler for oversized chains.
std::string padded_certificate_pem(std::size_t padding_bytes);

}  // namespace meshprobe::test
