// The connect layer, under every kind: a TCP connect to the attempt's
// address, with a failure explained from the socket's ICMP error queue
// (which ICMP error came, and from whom) rather than guessed.
#include <boost/asio/ip/tcp.hpp>

#include <tuple>
#include <utility>

#include "probes/attempt.h"
#include "probes/detail/socket_errors.h"
#include "probes/kinds.h"

namespace meshprobe::detail {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using boost::system::error_code;

asio::awaitable<bool> tcp_connect(Attempt& attempt) {
  attempt.begin(Phase::connect);
  const tcp::endpoint endpoint(attempt.address(), attempt.target().port);
  tcp::socket& socket = attempt.socket();
  ProbeResult& result = attempt.result();
  error_code ec;
  socket.open(endpoint.protocol(), ec);
  if (ec) {
    auto verdict = classify_connect_failure(-1, ec.value(), result.address, "");
    attempt.fail(verdict.diagnosis, std::move(verdict.message));
    co_return false;
  }
  enable_icmp_error_queue(socket.native_handle(), endpoint.address().is_v6());
  std::tie(ec) = co_await socket.async_connect(endpoint, kNoThrow);
  attempt.end_phase();
  if (ec) {
    if (attempt.stopped()) {
      attempt.fail_stopped();
    } else {
      error_code ignored;
      const auto local = socket.local_endpoint(ignored);
      auto verdict = classify_connect_failure(socket.native_handle(), ec.value(), result.address,
                                              ignored ? "" : local.address().to_string());
      attempt.fail(verdict.diagnosis, std::move(verdict.message));
    }
    co_return false;
  }
  co_return true;
}

void tcp_stalled(Attempt& attempt, const std::string& budget) {
  attempt.fail(Diagnosis::tcp_timeout,
               "no answer to the TCP connect within " + budget +
                   ": a firewall drops the traffic (context deadline exceeded)");
}

}  // namespace meshprobe::detail
