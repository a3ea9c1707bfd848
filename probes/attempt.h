// One attempt: one address of one target, walked through the layers of its
// kind (kinds.h: connect → tls → app) with an explicit phase. A single
// absolute deadline timer bounds all the layers: when it fires it closes the
// socket, every pending operation ends, and the phase that was running names
// the diagnosis (fail_stopped). A cancel does the same. Failures are values:
// a layer records one with fail() and stops; nothing throws.
// Private to probes/.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/system/error_code.hpp>

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>

#include "probes/diagnosis.h"
#include "probes/result.h"
#include "probes/target.h"

namespace meshprobe::detail {

struct Shared;      // shared.h
struct TlsSession;  // tls_session.h: only the files that speak TLS see it

using SteadyClock = std::chrono::steady_clock;

// "3s", "0.5s": a time budget as the messages quote it.
std::string seconds_text(std::chrono::milliseconds d);

class Attempt : public std::enable_shared_from_this<Attempt> {
 public:
  Attempt(Shared& shared, std::shared_ptr<const Target> target, boost::asio::ip::address address,
          SteadyClock::time_point started, SteadyClock::time_point deadline, ProbeResult base);
  // Like an Envoy health-check session, an attempt is finished before it is
  // destroyed: its timer cancelled, its socket closed (asserted in debug).
  ~Attempt();
  Attempt(const Attempt&) = delete;
  Attempt& operator=(const Attempt&) = delete;

  // Arms the deadline, runs the layers of the target's kind, finishes.
  boost::asio::awaitable<void> run();
  // Ends the attempt early: the running phase fails as cancelled.
  void cancel() { stop(/*cancelled=*/true); }
  ProbeResult take_result() { return std::move(result_); }

  // What the layers work with.
  Shared& shared() const { return shared_; }
  const Target& target() const { return *target_; }
  const boost::asio::ip::address& address() const { return address_; }
  boost::asio::ip::tcp::socket& socket() { return socket_; }
  ProbeResult& result() { return result_; }
  Phase phase() const { return phase_; }
  // The TLS layer over socket(), once the handshake has opened it; null
  // before (and for tcp targets).
  TlsSession* tls() const { return tls_.get(); }
  TlsSession& open_tls(std::unique_ptr<TlsSession> session);
  // Bytes of the server's application answer read so far: how far an
  // answer got when the deadline cut it off.
  std::size_t app_received() const { return app_received_; }
  void set_app_received(std::size_t bytes) { app_received_ = bytes; }

  void begin(Phase phase) {
    phase_ = phase;
    phase_started_ = SteadyClock::now();
  }
  void end_phase();
  // The first failure is the diagnosis; later ones are consequences.
  void fail(Diagnosis diagnosis, std::string message) {
    if (failed_) return;
    failed_ = true;
    result_.diagnosis = diagnosis;
    result_.failed_phase = phase_;
    result_.message = std::move(message);
  }
  // The deadline or a cancel closed the socket: says what the running phase
  // was waiting for (each layer words its own, kinds.h).
  void fail_stopped();
  bool stopped() const { return timed_out_ || cancelled_; }
  // A failed TLS read, write or handshake, by OpenSSL's reason or errno.
  void fail_tls(const boost::system::error_code& ec);
  // A read or write of the application phase failed: timeout, a close
  // (`closed_diagnosis`, `closed_message`), or TLS trouble that only shows
  // after the handshake.
  void fail_app_io(const boost::system::error_code& ec, Diagnosis closed_diagnosis,
                   std::string closed_message);

 private:
  void arm_deadline();
  void stop(bool cancelled);
  void finish();

  Shared& shared_;
  std::shared_ptr<const Target> target_;
  boost::asio::ip::address address_;
  SteadyClock::time_point started_;
  SteadyClock::time_point deadline_;
  boost::asio::steady_timer timer_;
  boost::asio::ip::tcp::socket socket_;
  std::unique_ptr<TlsSession> tls_;  // after socket_: its stream uses the socket
  ProbeResult result_;

  Phase phase_ = Phase::connect;
  SteadyClock::time_point phase_started_;
  bool failed_ = false;
  bool timed_out_ = false;
  bool cancelled_ = false;
  bool done_ = false;
  std::size_t app_received_ = 0;
};

}  // namespace meshprobe::detail
