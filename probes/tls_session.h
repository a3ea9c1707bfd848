// The TLS layer of one attempt: Asio's SSL stream over the attempt's socket,
// and what the Go verifier decided of the served chain during its handshake. Only the
// files that speak TLS include this (and Asio's SSL headers with it).
// Private to probes/.
#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>

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
};

}  // namespace meshprobe::detail
