// Reading and judging what a TLS server presented: the session parameters,
// the chain summary, and verification against a CA bundle with the reasons
// kept apart (OpenSSL's pass/fail verify callback would merge them).
#pragma once

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include "probes/diagnosis.h"
#include "probes/result.h"

struct ssl_st;
struct x509_store_st;

namespace meshprobe::detail {

inline constexpr std::size_t kMaxChainSummarized = 10;
inline constexpr std::size_t kMaxSansSummarized = 64;
// The largest Certificate handshake message a probe accepts: Go's
// crypto/tls maxHandshakeCertificateMsg, the API server's own limit.
inline constexpr long kMaxCertificateMessage = 256 * 1024;

// Version, cipher, ALPN and the served chain of a completed handshake.
TlsInfo describe_session(ssl_st* ssl);

struct Verdict {
  Diagnosis diagnosis = Diagnosis::ok;
  std::string message;
};

// One problem of a served chain, as OpenSSL's verification reported it.
struct ChainProblem {
  int code;   // X509_V_ERR_*
  int depth;  // 0: the server's certificate
};

// The chain is verified once, inside the handshake, as any TLS client does:
// this gives `ssl` the trust store, the expected name (a DNS name or an IP
// literal) and a verify callback that records every problem into
// `problems` and lets the handshake finish, so that the reasons can be told
// apart afterwards (a pass/fail callback would merge them). `problems` must
// outlive the handshake. False: OpenSSL refused the settings.
bool prepare_verification(ssl_st* ssl, x509_store_st* store, std::string_view expected_name,
                          std::vector<ChainProblem>* problems);

// Judges a completed handshake by the problems prepare_verification
// recorded. Unknown authority outranks validity, which outranks the name: a
// stale caBundle is the root cause even when the name is also wrong.
Verdict verify_peer(ssl_st* ssl, const std::vector<ChainProblem>& errors,
                    std::string_view expected_name);

// Explains a failed handshake from the OpenSSL reason code carried by the
// error (0 when none) or the system errno.
Verdict classify_handshake_failure(int openssl_reason, int system_errno,
                                   bool eof);

// A human-readable count of days from `now` to `when` (negative: in the past).
double days_until(WallClock::time_point when, WallClock::time_point now);

}  // namespace meshprobe::detail
