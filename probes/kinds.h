// The layers of a probe, one file each, which Attempt::run() chains by the
// target's kind: tcp connects; tls adds the handshake; https and grpc add an
// exchange over it. Each layer opens its phase with Attempt::begin and records
// a failure with Attempt::fail; the lower layers return whether the next one
// may run. Each also words what its phase was waiting for when the deadline
// or a cancel stopped it (the *_stalled functions, which
// Attempt::fail_stopped calls by phase).
// Private to probes/.
#pragma once

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <string>

namespace meshprobe::detail {

class Attempt;

// Completion token for the layers' operations: errors come back as values.
inline constexpr auto kNoThrow = boost::asio::as_tuple(boost::asio::use_awaitable);

// tcp_probe.cpp: opens and connects the attempt's socket; a failed connect
// is classified from the socket's ICMP error queue.
boost::asio::awaitable<bool> tcp_connect(Attempt& attempt);
void tcp_stalled(Attempt& attempt, const std::string& budget);

// tls_probe.cpp: the handshake, with the served chain verified inside it
// against the target's bundle (or the system store).
boost::asio::awaitable<bool> tls_handshake(Attempt& attempt);
void tls_stalled(Attempt& attempt, const std::string& budget);
// tls_probe.cpp: once the attempt has finished, keeps the session it may
// resume (a verified full handshake's, or a passing resumed one's newer
// ticket) or, after a failure, drops the target address's session.
void settle_tls_session(Attempt& attempt);

// https_probe.cpp: GET the target's path, judge the response head's status.
boost::asio::awaitable<void> https_exchange(Attempt& attempt);
void https_stalled(Attempt& attempt, const std::string& budget);

// grpc_probe.cpp: ALPN h2 and the server's SETTINGS frame answering the
// HTTP/2 preface.
boost::asio::awaitable<void> grpc_exchange(Attempt& attempt);
void grpc_stalled(Attempt& attempt, const std::string& budget);

}  // namespace meshprobe::detail
