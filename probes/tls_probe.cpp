// The TLS layer, for tls, https and grpc targets: the handshake as Go's
// crypto/tls client makes it (what the API server and pilot-agent use), with
// the served chain judged once inside it by Go's crypto/x509 rules against
// the target's own bundle (detail/go_verify.h, detail/tls_inspect.h).
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <openssl/ssl.h>

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

}  // namespace

std::unique_ptr<ssl::context> make_tls_context(std::string_view alpn) {
  auto ctx = std::make_unique<ssl::context>(ssl::context::tls_client);
  SSL_CTX* native = ctx->native_handle();
  // Go's TLS client, as the API server and pilot-agent use it; each
  // handshake judges its chain by Go's rules against its target's own
  // bundle (prepare_verification), so one context serves all targets.
  if (!apply_go_client_defaults(native)) {
    throw std::runtime_error("OpenSSL refused Go's TLS client settings");
  }
  SSL_CTX_set_session_cache_mode(native, SSL_SESS_CACHE_OFF);
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
  auto [ec] = co_await tls.stream.async_handshake(ssl::stream_base::client, kNoThrow);
  attempt.end_phase();
  ProbeResult& result = attempt.result();
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
  co_return true;
}

void tls_stalled(Attempt& attempt, const std::string& budget) {
  attempt.fail(Diagnosis::tls_timeout, handshake_stall_message(attempt.tls(), budget));
}

}  // namespace meshprobe::detail
