// The https exchange, over the TLS layer: one GET of the target's path, and
// the status line of the response head judged. The body is never read, so an
// endless or huge body cannot hold a probe.
#include <boost/asio/buffer.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/write.hpp>

#include <array>
#include <string>
#include <string_view>

#include "probes/attempt.h"
#include "probes/detail/http_head.h"
#include "probes/kinds.h"
#include "probes/shared.h"
#include "probes/tls_session.h"

namespace meshprobe::detail {

namespace asio = boost::asio;

asio::awaitable<void> https_exchange(Attempt& attempt) {
  attempt.begin(Phase::app);
  const Target& target = attempt.target();
  auto& stream = attempt.tls()->stream;
  std::string host_header = target.server_name;
  if (host_header.find(':') != std::string::npos) host_header = "[" + host_header + "]";
  if (target.port != 443) host_header += ":" + std::to_string(target.port);
  const std::string request =
      make_request(target.path, host_header, attempt.shared().options.user_agent);

  auto [write_ec, written] = co_await asio::async_write(stream, asio::buffer(request), kNoThrow);
  if (write_ec) {
    attempt.end_phase();
    attempt.fail_app_io(write_ec, Diagnosis::http_protocol_error,
                        "the server closed the connection before the request was sent");
    co_return;
  }

  std::string received;
  std::array<char, 4096> chunk;
  std::size_t head_end = 0;
  while (head_end == 0) {
    auto [ec, n] = co_await stream.async_read_some(asio::buffer(chunk), kNoThrow);
    received.append(chunk.data(), n);
    attempt.set_app_received(received.size());
    head_end = response_head_end(received);
    if (head_end != 0) break;
    if (received.size() > kMaxResponseHead) {
      attempt.end_phase();
      attempt.fail(Diagnosis::http_protocol_error,
                   "the response head exceeds 16 KiB without ending");
      co_return;
    }
    if (ec) {
      attempt.end_phase();
      attempt.fail_app_io(ec, Diagnosis::http_protocol_error,
                          received.empty() ? "the server closed the connection without answering "
                                             "the request"
                                           : "the server closed the connection in the middle of "
                                             "the response head");
      co_return;
    }
  }
  attempt.end_phase();

  auto head = parse_response_head(std::string_view(received).substr(0, head_end));
  if (!head) {
    attempt.fail(Diagnosis::http_protocol_error, head.error().message);
    co_return;
  }
  attempt.result().http_status = head->status;
  if (head->status != target.expected_status) {
    attempt.fail(Diagnosis::http_unexpected_status,
                 "GET " + target.path + " answered " + std::to_string(head->status) +
                     (head->reason.empty() ? "" : " " + head->reason) + ", expected " +
                     std::to_string(target.expected_status));
  }
}

void https_stalled(Attempt& attempt, const std::string& budget) {
  if (const std::size_t received = attempt.app_received(); received > 0) {
    // A server trickling its head, or stopped in the middle of it.
    attempt.fail(Diagnosis::http_timeout,
                 "connected, but the response head was still incomplete after " +
                     std::to_string(received) + " bytes within " + budget +
                     " (Client.Timeout exceeded while awaiting headers)");
  } else {
    attempt.fail(Diagnosis::http_timeout, "connected, but no response headers within " + budget +
                                              " (Client.Timeout exceeded while awaiting headers)");
  }
}

}  // namespace meshprobe::detail
