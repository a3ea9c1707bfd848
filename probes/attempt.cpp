// The attempt's core: the deadline, the phases, the failure record, and the
// chain of layers (kinds.h) that run() walks for the target's kind.
#include "probes/attempt.h"

#include <boost/asio/error.hpp>
#include <boost/asio/ssl/error.hpp>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include <cassert>
#include <charconv>
#include <cstddef>
#include <cstdio>
#include <string>

#include "probes/detail/tls_inspect.h"
#include "probes/kinds.h"
#include "probes/shared.h"
#include "probes/tls_session.h"

namespace meshprobe::detail {

namespace asio = boost::asio;
namespace ssl = boost::asio::ssl;
using boost::system::error_code;

std::string seconds_text(std::chrono::milliseconds d) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%gs", static_cast<double>(d.count()) / 1000.0);
  return buf;
}

namespace {

// The address as results and address labels name it. IPv4 is written here:
// Asio's to_string goes through inet_ntop's sprintf, a tenth of a TCP
// probe's instructions in the agent (callgrind). IPv6 is left to Asio.
std::string address_text(const asio::ip::address& address) {
  if (!address.is_v4()) return address.to_string();
  const auto bytes = address.to_v4().to_bytes();
  char text[16];
  char* end = text;
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    if (i != 0) *end++ = '.';
    end = std::to_chars(end, text + sizeof text, bytes[i]).ptr;
  }
  return std::string(text, end);
}

}  // namespace

Attempt::Attempt(Shared& shared, std::shared_ptr<const Target> target, asio::ip::address address,
                 SteadyClock::time_point started, SteadyClock::time_point deadline,
                 ProbeResult base)
    : shared_(shared),
      target_(std::move(target)),
      address_(address),
      started_(started),
      deadline_(deadline),
      timer_(shared.io),
      socket_(shared.io),
      result_(std::move(base)) {
  result_.address = address_text(address);
  if (auto labels = target_->address_labels.find(result_.address);
      labels != target_->address_labels.end()) {
    result_.address_labels = labels->second;
  }
}

Attempt::~Attempt() {
  // finish() cancelled the timer and closed the socket. Only an io_context
  // torn down in mid-attempt destroys an unfinished one, and it has already
  // dropped the timer's wait: cancel() finds none.
  [[maybe_unused]] const bool finished = done_ || timer_.cancel() == 0;
  assert(finished && "an attempt was destroyed with its deadline still armed");
}

asio::awaitable<void> Attempt::run() {
  arm_deadline();
  // One co_await per statement: g++ 12 miscompiles co_await inside
  // short-circuit conditions.
  bool ok = co_await tcp_connect(*this);
  if (ok && uses_tls(target_->kind)) ok = co_await tls_handshake(*this);
  if (ok) {
    switch (target_->kind) {
      case ProbeKind::tcp:
      case ProbeKind::tls: break;
      case ProbeKind::https: co_await https_exchange(*this); break;
      case ProbeKind::grpc: co_await grpc_exchange(*this); break;
    }
  }
  finish();
}

TlsSession& Attempt::open_tls(std::unique_ptr<TlsSession> session) {
  tls_ = std::move(session);
  return *tls_;
}

void Attempt::arm_deadline() {
  timer_.expires_at(deadline_);
  timer_.async_wait([weak = weak_from_this()](error_code ec) {
    if (ec) return;
    if (auto self = weak.lock()) self->stop(/*cancelled=*/false);
  });
}

void Attempt::stop(bool cancelled) {
  if (done_) return;
  (cancelled ? cancelled_ : timed_out_) = true;
  error_code ignored;
  socket_.close(ignored);
}

void Attempt::end_phase() {
  const Duration took = SteadyClock::now() - phase_started_;
  switch (phase_) {
    case Phase::resolve: result_.phases.resolve = took; break;
    case Phase::connect: result_.phases.connect = took; break;
    case Phase::tls: result_.phases.tls = took; break;
    case Phase::app: result_.phases.app = took; break;
  }
}

void Attempt::fail_stopped() {
  const std::string budget = seconds_text(target_->timeout);
  if (cancelled_) {
    result_.cancelled = true;
  }
  switch (phase_) {
    case Phase::resolve:
    case Phase::connect: tcp_stalled(*this, budget); break;
    case Phase::tls: tls_stalled(*this, budget); break;
    case Phase::app:
      if (target_->kind == ProbeKind::grpc) {
        grpc_stalled(*this, budget);
      } else {
        https_stalled(*this, budget);
      }
      break;
  }
  if (cancelled_) result_.message = "cancelled: " + result_.message;
}

void Attempt::fail_tls(const error_code& ec) {
  int reason = 0;
  int system_errno = 0;
  bool eof = ec == ssl::error::stream_truncated || ec == asio::error::eof;
  if (ec.category() == asio::error::get_ssl_category()) {
    reason = ERR_GET_REASON(static_cast<unsigned long>(ec.value()));
  } else if (ec.category() == boost::system::system_category()) {
    system_errno = ec.value();
  }
  auto verdict = tls_ ? explain_handshake_failure(tls_->stream.native_handle(), tls_->peer_check,
                                                  reason, system_errno, eof)
                      : classify_handshake_failure(reason, system_errno, eof);
  if (target_->kind == ProbeKind::grpc && reason == SSL_R_TLSV1_ALERT_NO_APPLICATION_PROTOCOL) {
    verdict = {Diagnosis::grpc_not_h2,
               "the server refused ALPN h2 (no_application_protocol alert): "
               "it is not istiod's xDS gRPC port"};
  }
  if (phase_ == Phase::app) {
    verdict.message += " (after the handshake";
    verdict.message += reason == SSL_R_TLSV13_ALERT_CERTIFICATE_REQUIRED
                           ? ": the server requires a client certificate)"
                           : ")";
  }
  fail(verdict.diagnosis, std::move(verdict.message));
}

void Attempt::fail_app_io(const error_code& ec, Diagnosis closed_diagnosis,
                          std::string closed_message) {
  if (stopped()) {
    fail_stopped();
  } else if (ec == asio::error::eof || ec == ssl::error::stream_truncated ||
             ec == asio::error::connection_reset) {
    fail(closed_diagnosis, std::move(closed_message));
  } else {
    fail_tls(ec);
  }
}

void Attempt::finish() {
  done_ = true;
  timer_.cancel();
  error_code ignored;
  socket_.close(ignored);
  result_.duration = SteadyClock::now() - started_;
  result_.success = !failed_;
  if (!failed_) result_.diagnosis = Diagnosis::ok;
  if (tls_) settle_tls_session(*this);
}

}  // namespace meshprobe::detail
