#include "probes/result.h"

namespace meshprobe {

std::string_view phase_name(Phase phase) {
  switch (phase) {
    case Phase::resolve: return "resolve";
    case Phase::connect: return "connect";
    case Phase::tls: return "tls";
    case Phase::app: return "app";
  }
  return "unknown";
}

std::string_view handshake_name(HandshakeKind kind) {
  return kind == HandshakeKind::resumed ? "resumed" : "full";
}

std::string_view grpc_status_name(int code) {
  static constexpr std::string_view kNames[kGrpcStatusCodes] = {
      "OK",
      "CANCELLED",
      "UNKNOWN",
      "INVALID_ARGUMENT",
      "DEADLINE_EXCEEDED",
      "NOT_FOUND",
      "ALREADY_EXISTS",
      "PERMISSION_DENIED",
      "RESOURCE_EXHAUSTED",
      "FAILED_PRECONDITION",
      "ABORTED",
      "OUT_OF_RANGE",
      "UNIMPLEMENTED",
      "INTERNAL",
      "UNAVAILABLE",
      "DATA_LOSS",
      "UNAUTHENTICATED",
  };
  return code >= 0 && code < kGrpcStatusCodes ? kNames[code] : std::string_view{};
}

ProbeResult result_for(const Target& target) {
  ProbeResult result;
  result.target = target.name;
  result.url = target.url;
  result.kind = target.kind;
  result.vantage = target.vantage;
  result.started_at = WallClock::now();
  result.expect = target.expect;
  return result;
}

namespace {

// Codes of a connection that never opened: a name that did not resolve, or
// a connect that a firewall (or nothing listening) refused.
constexpr DiagnosisSet kNeverConnected{Diagnosis::dns_not_found, Diagnosis::dns_failure,
                                       Diagnosis::tcp_timeout, Diagnosis::tcp_refused,
                                       Diagnosis::tcp_unreachable};

bool only_never_connected(const DiagnosisSet& expect) {
  for (Diagnosis d : kAllDiagnoses) {
    if (expect.contains(d) && !kNeverConnected.contains(d)) return false;
  }
  return true;
}

std::string expected_text(const DiagnosisSet& expect) {
  return "expected " + codes_text(expect, " or ");
}

}  // namespace

void apply_expectation(ProbeResult& result) {
  if (result.expect.empty() || result.observed || result.cancelled) return;
  const Diagnosis observed = result.diagnosis;
  result.observed = observed;
  if (result.expect.contains(observed)) {
    result.success = true;
    result.diagnosis = Diagnosis::ok;
    return;
  }
  const bool connected =
      observed == Diagnosis::ok ||
      (result.failed_phase && *result.failed_phase != Phase::resolve &&
       *result.failed_phase != Phase::connect && only_never_connected(result.expect));
  const std::string where = result.address.empty() ? result.url : result.address;
  if (!connected) {
    result.message += " (" + expected_text(result.expect) + ")";
    return;
  }
  std::string how = observed == Diagnosis::ok
                        ? "every layer passed"
                        : "then " + std::string(code(observed)) + ": " + result.message;
  result.success = false;
  result.diagnosis = Diagnosis::unexpectedly_reachable;
  result.message = "the path the firewall must keep closed is open: connected to " + where + " (" +
                   result.url + "), " + std::move(how) + "; " + expected_text(result.expect);
  if (!result.failed_phase) result.failed_phase = Phase::connect;
}

}  // namespace meshprobe
