// Reading and judging what a TLS server presented: the session parameters,
// the chain summary, and the verdict on the chain by Go's rules, with the
// reasons kept apart.
#pragma once

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include "probes/ca_bundle.h"
#include "probes/detail/go_verify.h"
#include "probes/diagnosis.h"
#include "probes/result.h"

struct ssl_st;

namespace meshprobe::detail {

inline constexpr std::size_t kMaxChainSummarized = 10;
inline constexpr std::size_t kMaxSansSummarized = 64;
// The largest Certificate handshake message a probe accepts: Go's
// crypto/tls maxHandshakeCertificateMsg, the API server's own limit.
inline constexpr long kMaxCertificateMessage = 256 * 1024;

// Version, cipher, ALPN and the served chain of a handshake: of a completed
// one, or what a failed one had received (the chain Go refused included).
TlsInfo describe_session(ssl_st* ssl);

struct Verdict {
  Diagnosis diagnosis = Diagnosis::ok;
  std::string message;
};

// The chain is judged once, inside the handshake, by the rules of Go's
// crypto/x509 and crypto/tls client (go_verify.h), as the API server and
// pilot-agent judge it: this sends the SNI Go's client sends for
// `expected_name` (a DNS name or an IP literal) and arms `ssl` to judge the
// served chain against `bundle` into `check`, failing the handshake when Go
// would. The context must have apply_go_client_defaults. `check` must
// outlive the handshake. False: OpenSSL refused the settings.
bool prepare_verification(ssl_st* ssl, const CaBundle& bundle, std::string_view expected_name,
                          GoPeerCheck* check);

// Whether the server's certificates arrived: a chain describe_session can
// summarize, whatever the verdict.
bool received_chain(ssl_st* ssl);

// The verdict on a completed handshake: Go's on the served chain.
Verdict verify_peer(ssl_st* ssl, GoPeerCheck& check);

// Explains a failed handshake: Go's refusal of the served chain when the
// verifier refused it, else what classify_handshake_failure says, with
// Go's text for a handshake signature by another key.
Verdict explain_handshake_failure(ssl_st* ssl, const GoPeerCheck& check, int openssl_reason,
                                  int system_errno, bool eof);

// Explains a failed handshake from the OpenSSL reason code carried by the
// error (0 when none) or the system errno.
Verdict classify_handshake_failure(int openssl_reason, int system_errno, bool eof);

// A human-readable count of days from `now` to `when` (negative: in the past).
double days_until(WallClock::time_point when, WallClock::time_point now);

}  // namespace meshprobe::detail
