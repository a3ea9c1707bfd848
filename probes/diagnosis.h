// The diagnosis catalogue: every probe outcome maps to exactly one code.
// Codes are stable: they are metric label values, JSON values and exit reasons.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <iterator>
#include <string>
#include <string_view>

namespace meshprobe {

enum class Diagnosis {
  ok,
  dns_not_found,
  dns_failure,
  tcp_timeout,
  tcp_refused,
  tcp_unreachable,
  tls_timeout,
  tls_protocol_error,
  tls_unknown_authority,
  tls_name_mismatch,
  tls_expired,
  tls_not_yet_valid,
  tls_invalid_certificate,
  http_timeout,
  http_protocol_error,
  http_unexpected_status,
  grpc_not_h2,
  grpc_not_grpc,
  grpc_protocol_error,
  grpc_timeout,
  grpc_not_serving,
  local_resource,
  kubernetes_api_error,
  unexpectedly_reachable,
  // Admission: what the API server did with a dry-run create that goes
  // through istiod's webhooks.
  injection_skipped,
  webhook_timeout,
  webhook_validation_not_enforced,
};

inline constexpr Diagnosis kAllDiagnoses[] = {
    Diagnosis::ok,
    Diagnosis::dns_not_found,
    Diagnosis::dns_failure,
    Diagnosis::tcp_timeout,
    Diagnosis::tcp_refused,
    Diagnosis::tcp_unreachable,
    Diagnosis::tls_timeout,
    Diagnosis::tls_protocol_error,
    Diagnosis::tls_unknown_authority,
    Diagnosis::tls_name_mismatch,
    Diagnosis::tls_expired,
    Diagnosis::tls_not_yet_valid,
    Diagnosis::tls_invalid_certificate,
    Diagnosis::http_timeout,
    Diagnosis::http_protocol_error,
    Diagnosis::http_unexpected_status,
    Diagnosis::grpc_not_h2,
    Diagnosis::grpc_not_grpc,
    Diagnosis::grpc_protocol_error,
    Diagnosis::grpc_timeout,
    Diagnosis::grpc_not_serving,
    Diagnosis::local_resource,
    Diagnosis::kubernetes_api_error,
    Diagnosis::unexpectedly_reachable,
    Diagnosis::injection_skipped,
    Diagnosis::webhook_timeout,
    Diagnosis::webhook_validation_not_enforced,
};

// The stable code, e.g. "tcp_timeout".
std::string_view code(Diagnosis d);

// What the code means, in the words users meet it (the seed's error strings).
std::string_view meaning(Diagnosis d);

// What to do about it.
std::string_view remedy(Diagnosis d);

// Where each code is explained (what it means, the guide's wording, how to
// confirm it by hand, the remedy per platform): one anchor per code, probe
// diagnoses and webhook hygiene codes alike. Relative to the repository root.
inline constexpr std::string_view kDiagnosesDoc = "docs/diagnoses.md";

// kDiagnosesDoc + "#" + code: the `doc` of results, findings and alerts.
std::string doc_link(std::string_view code);

// Parses a code; false when `text` is not one.
bool parse_diagnosis(std::string_view text, Diagnosis& out);

// A set of codes, one bit each: what a target expects its probe to end in
// (`expect:`), small enough to ride on every result.
class DiagnosisSet {
 public:
  constexpr DiagnosisSet() = default;
  constexpr DiagnosisSet(std::initializer_list<Diagnosis> codes) {
    for (Diagnosis d : codes) insert(d);
  }
  constexpr void insert(Diagnosis d) { bits_ |= bit(d); }
  constexpr bool contains(Diagnosis d) const { return (bits_ & bit(d)) != 0; }
  constexpr bool empty() const { return bits_ == 0; }
  constexpr bool operator==(const DiagnosisSet&) const = default;

 private:
  static constexpr std::uint32_t bit(Diagnosis d) {
    return std::uint32_t{1} << static_cast<unsigned>(d);
  }
  std::uint32_t bits_ = 0;
};
static_assert(std::size(kAllDiagnoses) <= 32, "a DiagnosisSet holds every code");

// `expect: blocked`: the connection does not open, however the firewall
// refuses it (drops, resets, ICMP unreachable or prohibited).
inline constexpr DiagnosisSet kBlocked{Diagnosis::tcp_timeout, Diagnosis::tcp_refused,
                                       Diagnosis::tcp_unreachable};

// The codes of `set`, in catalogue order, joined with `separator`.
std::string codes_text(const DiagnosisSet& set, std::string_view separator = ", ");

}  // namespace meshprobe
