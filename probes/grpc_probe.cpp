// The grpc exchange, over the TLS layer (offering ALPN h2): the server must
// select h2 and answer the HTTP/2 connection preface with its SETTINGS frame
// (RFC 9113 section 3.4), the proof that the port speaks gRPC's transport.
// A gRPC request, once there is one, goes between the SETTINGS and the
// goodbye (grpc_exchange).
#include <boost/asio/buffer.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/write.hpp>

#include <array>
#include <string>
#include <tuple>

#include "probes/attempt.h"
#include "probes/detail/h2_settings.h"
#include "probes/kinds.h"
#include "probes/tls_session.h"

namespace meshprobe::detail {
namespace {

namespace asio = boost::asio;

// False (the attempt failed) unless the handshake selected h2.
bool selected_h2(Attempt& attempt) {
  const std::string& alpn = attempt.result().tls->alpn;
  if (alpn == "h2") return true;
  attempt.end_phase();
  attempt.fail(Diagnosis::grpc_not_h2, alpn.empty()
                                           ? "the server selected no ALPN protocol: it does not "
                                             "speak HTTP/2, so it is not istiod's xDS gRPC port"
                                           : "the server selected ALPN \"" + alpn +
                                                 "\" instead of h2: it is not a gRPC port");
  return false;
}

// Sends the client preface and reads the server's first frame, which must be
// SETTINGS. Ends the app phase.
asio::awaitable<bool> exchange_settings(Attempt& attempt, TlsStream& stream) {
  const std::string hello = h2_client_hello();
  auto [write_ec, written] = co_await asio::async_write(stream, asio::buffer(hello), kNoThrow);
  if (write_ec) {
    attempt.end_phase();
    attempt.fail_app_io(write_ec, Diagnosis::grpc_not_h2,
                        "the server closed the connection before the HTTP/2 preface "
                        "was sent");
    co_return false;
  }

  std::array<unsigned char, kH2FrameHeaderSize> header_bytes;
  auto [ec, n] = co_await asio::async_read(stream, asio::buffer(header_bytes), kNoThrow);
  if (ec) {
    attempt.end_phase();
    attempt.fail_app_io(ec, Diagnosis::grpc_not_h2,
                        "the server closed the connection instead of answering the "
                        "HTTP/2 preface with SETTINGS");
    co_return false;
  }
  const auto header = parse_h2_frame_header(header_bytes.data());
  if (std::string problem = check_server_first_frame(header); !problem.empty()) {
    attempt.end_phase();
    attempt.fail(Diagnosis::grpc_not_h2, problem);
    co_return false;
  }
  std::string payload(header.length, '\0');
  std::tie(ec, n) = co_await asio::async_read(stream, asio::buffer(payload), kNoThrow);
  attempt.end_phase();
  if (ec) {
    attempt.fail_app_io(ec, Diagnosis::grpc_not_h2,
                        "the server closed the connection inside its SETTINGS frame");
    co_return false;
  }
  co_return true;
}

}  // namespace

asio::awaitable<void> grpc_exchange(Attempt& attempt) {
  attempt.begin(Phase::app);
  if (!selected_h2(attempt)) co_return;
  TlsStream& stream = attempt.tls()->stream;
  const bool settled = co_await exchange_settings(attempt, stream);
  if (!settled) co_return;
  // Best effort: the verdict is already in.
  const std::string goodbye = h2_client_goodbye();
  co_await asio::async_write(stream, asio::buffer(goodbye), kNoThrow);
}

void grpc_stalled(Attempt& attempt, const std::string& budget) {
  attempt.fail(Diagnosis::grpc_not_h2,
               "ALPN selected h2, but no SETTINGS frame answered the HTTP/2 "
               "preface within " +
                   budget);
}

}  // namespace meshprobe::detail
