// The TLS layer, for tls, https and grpc targets: the handshake, with the
// served chain verified once inside it, as any TLS client does. The verify
// callback records every problem and lets the handshake finish, so an
// unknown authority, an expired certificate and a wrong name stay apart;
// verify_peer judges what it recorded (detail/tls_inspect.h).
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>

#include <openssl/ssl.h>

#include <cmath>
#include <memory>
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

bool is_ip_literal(const std::string& host) {
  error_code ec;
  asio::ip::make_address(host, ec);
  return !ec;
}

void warn_if_expiring(const Target& target, ProbeResult& result) {
  if (!result.tls->earliest_expiry) return;
  const double days = days_until(*result.tls->earliest_expiry, WallClock::now());
  if (days < target.expiry_warning_days) {
    result.warnings.push_back(
        {"tls_expiring_soon",
         "a certificate of the chain expires in " +
             std::to_string(static_cast<int>(std::floor(days))) + " days (warning below " +
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
    return "TCP connected, but no complete answer to the ClientHello within " +
           budget + ": a listener that does not speak TLS, or a server or "
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
  // The context verifies nothing itself: each connection gets the target's
  // trust store, expected name and a verify callback that records every
  // problem (prepare_verification), so the chain is verified once, inside
  // the handshake, with the failure reasons kept apart, and one context
  // serves all targets.
  ctx->set_verify_mode(ssl::verify_none);
  SSL_CTX* native = ctx->native_handle();
  SSL_CTX_set_min_proto_version(native, TLS1_2_VERSION);
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
  const std::string& name = target.server_name;
  if (!name.empty() && !is_ip_literal(name)) {
    // SSL_set_tlsext_host_name, without the macro's C cast.
    SSL_ctrl(ssl, SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
             const_cast<char*>(name.c_str()));
  }
  x509_store_st* store = target.ca ? target.ca->store() : shared.system_store();
  if (store == nullptr || !prepare_verification(ssl, store, name, &tls.chain_problems)) {
    attempt.end_phase();
    attempt.fail(Diagnosis::local_resource, store == nullptr
                                                ? "the system trust store cannot be loaded"
                                                : "cannot set up certificate verification");
    co_return false;
  }
  auto [ec] = co_await tls.stream.async_handshake(ssl::stream_base::client, kNoThrow);
  attempt.end_phase();
  if (ec) {
    if (attempt.stopped()) {
      attempt.fail_stopped();
    } else {
      attempt.fail_tls(ec);
    }
    co_return false;
  }

  ProbeResult& result = attempt.result();
  result.tls = describe_session(ssl);
  auto verdict = verify_peer(ssl, tls.chain_problems, name);
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
