// The TLS layer of one attempt: Asio's SSL stream over the attempt's socket,
// and what the Go verifier decided of the served chain during its handshake. Only the
// files that speak TLS include this (and Asio's SSL headers with it).
// Private to probes/.
#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>

#include <chrono>
#include <functional>
#include <optional>
#include <string>

#include "probes/detail/session_cache.h"
#include "probes/detail/tls_inspect.h"

namespace meshprobe::detail {

using TlsStream = boost::asio::ssl::stream<boost::asio::ip::tcp::socket&>;

struct TlsSession {
  TlsSession(boost::asio::ip::tcp::socket& socket, boost::asio::ssl::context& context)
      : stream(socket, context) {}

  // Filled during the handshake (prepare_verification); declared first so it
  // outlives the stream.
  GoPeerCheck peer_check;
  TlsStream stream;

  // Resumption (Target::full_verify_interval > 0): the cache key; the facts
  // of the offered session's full verification; when the chain this
  // connection relies on was verified in full (that verification, or this
  // handshake's); and the session the server granted during this connection
  // (TLS 1.3 tickets arrive after the handshake; ticket_arrived is told when
  // one does).
  std::string session_key;
  std::optional<TlsInfo> offered_facts;
  std::chrono::steady_clock::time_point verified_at;
  SessionPtr received;
  bool fully_verified = false;
  std::function<void()> ticket_arrived;
};

}  // namespace meshprobe::detail
