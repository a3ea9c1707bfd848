// The grpc exchange, over the TLS layer (offering ALPN h2): the server must
// select h2 and answer the HTTP/2 connection preface with its SETTINGS frame
// (RFC 9113 section 3.4), the proof that the port speaks gRPC's transport;
// then one unary call (the target's method, Health/Check by default) whose
// gRPC status, whatever it is, proves a gRPC server. Go's net/http HTTP/2
// server (istiod's webhook port) passes the first part and fails the second.
#include <boost/asio/buffer.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/write.hpp>

#include <array>
#include <string>
#include <tuple>

#include "probes/attempt.h"
#include "probes/detail/grpc_frames.h"
#include "probes/detail/grpc_verdict.h"
#include "probes/detail/h2_settings.h"
#include "probes/kinds.h"
#include "probes/shared.h"
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
// SETTINGS. Ends the app phase when it fails.
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
  if (ec) {
    attempt.end_phase();
    attempt.fail_app_io(ec, Diagnosis::grpc_not_h2,
                        "the server closed the connection inside its SETTINGS frame");
    co_return false;
  }
  co_return true;
}

// The :authority the call names: the server name, with the port.
std::string authority_of(const Target& target) {
  std::string host = target.server_name;
  if (host.find(':') != std::string::npos) host = "[" + host + "]";
  return host + ":" + std::to_string(target.port);
}

// Sends the SETTINGS ACK and the call, then reads the server's frames until
// the call ends (or the connection does), answering what HTTP/2 asks the
// client to. The attempt's deadline bounds the wait; the reader bounds
// what is taken in.
asio::awaitable<void> call(Attempt& attempt, TlsStream& stream) {
  const Target& target = attempt.target();
  GrpcInfo& started = attempt.result().grpc.emplace();
  started.method = target.grpc_method;
  const std::string request =
      h2_settings_ack() + grpc_request_frames({.method = target.grpc_method,
                                               .authority = authority_of(target),
                                               .user_agent = attempt.shared().options.user_agent});
  auto [write_ec, written] = co_await asio::async_write(stream, asio::buffer(request), kNoThrow);
  if (write_ec) {
    attempt.end_phase();
    attempt.fail_app_io(write_ec, Diagnosis::grpc_protocol_error,
                        "the server closed the connection before the gRPC call was sent");
    co_return;
  }

  GrpcReplyReader reader;
  std::array<char, 16 * 1024> chunk;
  std::size_t received = 0;
  boost::system::error_code read_ec;
  while (!reader.done() && !read_ec) {
    std::size_t n = 0;
    std::tie(read_ec, n) = co_await stream.async_read_some(asio::buffer(chunk), kNoThrow);
    received += n;
    attempt.set_app_received(received);
    const std::string owed = reader.feed(std::string_view(chunk.data(), n));
    if (!owed.empty() && !reader.done()) {
      // A failed write shows on the next read.
      co_await asio::async_write(stream, asio::buffer(owed), kNoThrow);
    }
  }
  attempt.end_phase();
  if (!reader.done() && attempt.stopped()) {
    attempt.fail_stopped();
    co_return;
  }
  GrpcVerdict verdict = judge_grpc_reply(
      reader.reply(), {.method = target.grpc_method, .expect_serving = target.grpc_expect_serving});
  attempt.result().grpc = std::move(verdict.info);
  if (verdict.diagnosis == Diagnosis::ok) co_return;
  if (!reader.done() && read_ec && read_ec != asio::error::eof &&
      read_ec != asio::ssl::error::stream_truncated && read_ec != asio::error::connection_reset) {
    // TLS trouble after the handshake (an alert) says more than "closed".
    attempt.fail_app_io(read_ec, verdict.diagnosis, verdict.message);
    co_return;
  }
  attempt.fail(verdict.diagnosis, std::move(verdict.message));
}

}  // namespace

asio::awaitable<void> grpc_exchange(Attempt& attempt) {
  attempt.begin(Phase::app);
  if (!selected_h2(attempt)) co_return;
  TlsStream& stream = attempt.tls()->stream;
  const bool settled = co_await exchange_settings(attempt, stream);
  if (!settled) co_return;
  co_await call(attempt, stream);
  if (attempt.stopped()) co_return;
  // Best effort: the verdict is already in.
  const std::string goodbye = h2_client_goodbye();
  co_await asio::async_write(stream, asio::buffer(goodbye), kNoThrow);
}

void grpc_stalled(Attempt& attempt, const std::string& budget) {
  const auto& grpc = attempt.result().grpc;
  if (!grpc) {
    attempt.fail(Diagnosis::grpc_not_h2,
                 "ALPN selected h2, but no SETTINGS frame answered the HTTP/2 "
                 "preface within " +
                     budget);
    return;
  }
  const std::size_t received = attempt.app_received();
  attempt.fail(Diagnosis::grpc_timeout,
               "HTTP/2 is up, but the gRPC call " + grpc->method + " got no status within " +
                   budget +
                   (received > 0 ? " (" + std::to_string(received) + " bytes of answer came)"
                                 : " (no answer came)") +
                   " (DeadlineExceeded)");
}

}  // namespace meshprobe::detail
