// The TLS layer, for tls, https and grpc targets: the handshake as Go's
// crypto/tls client makes it (what the API server and pilot-agent use), with
// the served chain judged once inside it by Go's crypto/x509 rules against
// the target's own bundle (detail/go_verify.h, detail/tls_inspect.h).
#include <boost/asio/buffer.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <openssl/ssl.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>

#include "probes/attempt.h"
#include "probes/ca_bundle.h"
#include "probes/detail/tls_inspect.h"
#include "probes/kinds.h"
#include "probes/shared.h"
#include "probes/tls_session.h"

namespace meshprobe::detail {
namespace {

namespace asio = boost::asio;
namespace ssl = boost::asio::ssl;
using boost::system::error_code;

void warn_if_expiring(const Target& target, ProbeResult& result) {
  if (!result.tls->earliest_expiry) return;
  const double days = days_until(*result.tls->earliest_expiry, WallClock::now());
  if (days < target.expiry_warning_days) {
    result.warnings.push_back(
        {"tls_expiring_soon", "a certificate of the chain expires in " +
                                  std::to_string(static_cast<int>(std::floor(days))) +
                                  " days (warning below " +
                                  std::to_string(target.expiry_warning_days) + ")"});
  }
}

// Where the handshake stood when the deadline hit: a silent listener and
// a handshake cut off after the ServerHello (a path MTU black hole drops
// the large certificate packets that follow it) need different fixes.
std::string handshake_stall_message(TlsSession* tls, const std::string& budget) {
  const OSSL_HANDSHAKE_STATE state =
      tls ? SSL_get_state(tls->stream.native_handle()) : TLS_ST_BEFORE;
  if (state == TLS_ST_BEFORE || state == TLS_ST_CW_CLNT_HELLO) {
    return "TCP connected, but no complete answer to the ClientHello within " + budget +
           ": a listener that does not speak TLS, or a server or "
           "middlebox that stalls";
  }
  return "the TLS handshake stalled at \"" +
         std::string(SSL_state_string_long(tls->stream.native_handle())) +
         "\" and did not complete within " + budget +
         ": the rest of the server's answer never arrived (a path MTU black "
         "hole dropping large packets, or a stalled server)";
}

// How long a tls probe waits for a TLS 1.3 session ticket at least: servers
// send it right after the handshake, so the handshake's own duration (about
// one round trip more) bounds the wait unless it was quicker than this.
constexpr std::chrono::milliseconds kMinTicketWait{20};

int session_index() {
  static const int index = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  return index;
}

// OpenSSL hands over each session the server grants (TLS 1.2: at the end of
// the handshake; TLS 1.3: each ticket as it is read, after the handshake);
// the connection keeps a copy of the newest. A copy, because OpenSSL marks a
// connection's own session unresumable when the connection is freed without
// a close_notify, as a probe's is.
int keep_new_session(SSL* ssl, SSL_SESSION* session) {
  auto* tls = static_cast<TlsSession*>(SSL_get_ex_data(ssl, session_index()));
  if (tls == nullptr) return 0;
  tls->received.reset(SSL_SESSION_dup(session));
  if (tls->ticket_arrived) tls->ticket_arrived();
  return 0;
}

// Offers the session of the target address's last full verification, unless
// that verification is due again or a certificate it saw has expired since
// (a resumed handshake must not pass what a full one would fail).
void offer_session(Attempt& attempt, TlsSession& tls, const CaBundle& bundle) {
  const Target& target = attempt.target();
  SSL* ssl = tls.stream.native_handle();
  if (session_index() < 0 || SSL_set_ex_data(ssl, session_index(), &tls) != 1) return;
  tls.session_key = SessionCache::key_of(target, attempt.result().address, bundle);
  SessionCache& sessions = attempt.shared().tls_sessions;
  const VerifiedSession* cached =
      sessions.resumable(tls.session_key, target.full_verify_interval, SteadyClock::now());
  if (cached == nullptr) return;
  if (cached->facts.earliest_expiry && *cached->facts.earliest_expiry <= WallClock::now()) {
    sessions.forget(tls.session_key);
    return;
  }
  // A copy, for the same reason as in keep_new_session: the cached session
  // must stay resumable however this connection ends.
  const SessionPtr offered(SSL_SESSION_dup(cached->session.get()));
  if (!offered || SSL_set_session(ssl, offered.get()) != 1) return;
  tls.offered_facts = cached->facts;
  tls.verified_at = cached->verified_at;
}

// A resumed handshake: this connection's parameters, the chain facts of the
// full verification it relies on, and that verification's age.
TlsInfo resumed_session_facts(SSL* ssl, TlsSession& tls) {
  TlsInfo info = describe_session(ssl);
  TlsInfo& verified = *tls.offered_facts;
  info.chain = std::move(verified.chain);
  info.earliest_expiry = verified.earliest_expiry;
  info.verified = verified.verified;
  info.handshake = HandshakeKind::resumed;
  info.verified_age = SteadyClock::now() - tls.verified_at;
  return info;
}

// A tls probe sends nothing after the handshake, so a TLS 1.3 ticket would
// stay unread: read until one arrives, for about a round trip. Whatever
// ends the wait (no ticket, the server's data or close) leaves the verdict
// as it is: the handshake has passed.
asio::awaitable<void> read_session_ticket(Attempt& attempt, TlsSession& tls, Duration handshake) {
  auto stop_reading = [weak = attempt.weak_from_this()] {
    if (auto self = weak.lock()) {
      error_code ignored;
      self->socket().cancel(ignored);
    }
  };
  asio::io_context& io = attempt.shared().io;
  tls.ticket_arrived = [&io, stop_reading] { asio::post(io, stop_reading); };
  asio::steady_timer bound(io);
  bound.expires_after(std::max<Duration>(handshake, kMinTicketWait));
  bound.async_wait([stop_reading](error_code ec) {
    if (!ec) stop_reading();
  });
  char byte = 0;
  co_await tls.stream.async_read_some(asio::buffer(&byte, 1), kNoThrow);
  bound.cancel();
  tls.ticket_arrived = nullptr;
}

}  // namespace

void settle_tls_session(Attempt& attempt) {
  TlsSession* tls = attempt.tls();
  if (tls == nullptr || tls->session_key.empty()) return;
  SessionCache& sessions = attempt.shared().tls_sessions;
  const ProbeResult& result = attempt.result();
  if (!result.success || !result.tls) {
    sessions.forget(tls->session_key);
  } else if (result.tls->handshake == HandshakeKind::resumed) {
    sessions.resumed(tls->session_key, std::move(tls->received));
  } else if (tls->fully_verified && tls->received) {
    sessions.verified(tls->session_key, std::move(tls->received), *result.tls, tls->verified_at);
  } else {
    sessions.forget(tls->session_key);
  }
}

std::unique_ptr<ssl::context> make_tls_context(std::string_view alpn) {
  auto ctx = std::make_unique<ssl::context>(ssl::context::tls_client);
  SSL_CTX* native = ctx->native_handle();
  // Go's TLS client, as the API server and pilot-agent use it; each
  // handshake judges its chain by Go's rules against its target's own
  // bundle (prepare_verification), so one context serves all targets.
  if (!apply_go_client_defaults(native)) {
    throw std::runtime_error("OpenSSL refused Go's TLS client settings");
  }
  // Sessions for resumption are kept per target address (SessionCache),
  // never in OpenSSL's cache, which would share them across targets.
  SSL_CTX_set_session_cache_mode(native, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL);
  SSL_CTX_sess_set_new_cb(native, keep_new_session);
  // The largest Certificate message accepted: Go's crypto/tls limit (what
  // the API server calls the webhook with) instead of OpenSSL's 100 KiB, so a
  // chain the API server accepts is not failed here. Still a bound: a hostile
  // server cannot make a probe buffer more.
  SSL_CTX_set_max_cert_list(native, kMaxCertificateMessage);
  if (!alpn.empty()) {
    SSL_CTX_set_alpn_protos(native, reinterpret_cast<const unsigned char*>(alpn.data()),
                            static_cast<unsigned>(alpn.size()));
  }
  return ctx;
}

asio::awaitable<bool> tls_handshake(Attempt& attempt) {
  attempt.begin(Phase::tls);
  const Target& target = attempt.target();
  Shared& shared = attempt.shared();
  TlsSession& tls = attempt.open_tls(
      std::make_unique<TlsSession>(attempt.socket(), shared.tls_context(target.kind)));
  SSL* ssl = tls.stream.native_handle();
  const CaBundle* bundle = target.ca ? target.ca.get() : shared.system_trust();
  if (bundle == nullptr ||
      !prepare_verification(ssl, *bundle, target.server_name, &tls.peer_check)) {
    attempt.end_phase();
    attempt.fail(Diagnosis::local_resource, bundle == nullptr
                                                ? "the system trust store cannot be loaded"
                                                : "cannot set up certificate verification");
    co_return false;
  }
  const bool resumes = target.full_verify_interval.count() > 0;
  if (resumes) offer_session(attempt, tls, *bundle);
  const auto handshake_started = SteadyClock::now();
  auto [ec] = co_await tls.stream.async_handshake(ssl::stream_base::client, kNoThrow);
  const Duration handshake_took = SteadyClock::now() - handshake_started;
  attempt.end_phase();
  ProbeResult& result = attempt.result();
  // No Certificate message came: the server accepted the session offered,
  // which proves it holds that session's key; the chain was verified when
  // the session was made.
  if (!ec && tls.offered_facts && SSL_session_reused(ssl) == 1) {
    result.tls = resumed_session_facts(ssl, tls);
    warn_if_expiring(target, result);
    if (target.kind == ProbeKind::tls && SSL_version(ssl) == TLS1_3_VERSION) {
      co_await read_session_ticket(attempt, tls, handshake_took);
    }
    co_return true;
  }
  // The served chain's facts, whatever the verdict.
  if (received_chain(ssl)) result.tls = describe_session(ssl);
  if (ec && attempt.stopped()) {
    attempt.fail_stopped();
    co_return false;
  }
  if (ec && !tls.peer_check.refused()) {
    attempt.fail_tls(ec);
    co_return false;
  }

  // Go's verdict on the served chain (a refusal ended the handshake).
  auto verdict = verify_peer(ssl, tls.peer_check);
  if (verdict.diagnosis == Diagnosis::tls_unknown_authority && !target.ca) {
    verdict.message +=
        "; it was checked against the system trust store: name the mesh's "
        "root CA bundle (e.g. --ca-file root-cert.pem)";
  }
  if (verdict.diagnosis != Diagnosis::ok) {
    attempt.fail(verdict.diagnosis, std::move(verdict.message));
    co_return false;
  }
  result.tls->verified = true;
  warn_if_expiring(target, result);
  if (resumes) {
    tls.fully_verified = true;
    tls.verified_at = handshake_started;
    if (target.kind == ProbeKind::tls && SSL_version(ssl) == TLS1_3_VERSION && !tls.received) {
      co_await read_session_ticket(attempt, tls, handshake_took);
    }
  }
  co_return true;
}

void tls_stalled(Attempt& attempt, const std::string& budget) {
  attempt.fail(Diagnosis::tls_timeout, handshake_stall_message(attempt.tls(), budget));
}

}  // namespace meshprobe::detail
