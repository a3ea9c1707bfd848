// What one probe attempt of one address observed.
#pragma once

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "probes/diagnosis.h"
#include "probes/target.h"

namespace meshprobe {

enum class Phase { resolve, connect, tls, app };
std::string_view phase_name(Phase phase);

using Duration = std::chrono::nanoseconds;
using WallClock = std::chrono::system_clock;

// Each measured with the monotonic clock; empty when the phase did not run.
struct PhaseDurations {
  std::optional<Duration> resolve;
  std::optional<Duration> connect;
  std::optional<Duration> tls;
  std::optional<Duration> app;
};

struct CertSummary {
  std::string subject;  // RFC 2253; istiod's leaf has an empty subject
  std::string issuer;
  std::string serial;  // hex
  std::string sha256;  // hex fingerprint of the DER
  WallClock::time_point not_before;
  WallClock::time_point not_after;
  std::vector<std::string> sans;  // DNS names and IP addresses, capped
};

// A full handshake verified the served chain; a resumed one proved the
// server still holds the session key, and its chain facts are those of the
// last full verification.
enum class HandshakeKind { full, resumed };
std::string_view handshake_name(HandshakeKind kind);

struct TlsInfo {
  std::string version;  // "TLSv1.3"
  std::string cipher;
  std::string alpn;                // empty when none was selected
  std::vector<CertSummary> chain;  // as served, leaf first, capped
  bool verified = false;
  std::optional<WallClock::time_point> earliest_expiry;  // over the chain
  HandshakeKind handshake = HandshakeKind::full;
  // How long before this handshake the chain (and `verified`) was verified
  // in full: zero for a full handshake.
  Duration verified_age{};
};

// The gRPC call of a grpc probe, as far as it got.
struct GrpcInfo {
  std::string method;  // the :path called, e.g. "/grpc.health.v1.Health/Check"
  // Of the response headers; 0 and empty before they came.
  int http_status = 0;
  std::string content_type;
  std::optional<int> status;  // grpc-status; empty when none came
  std::string message;        // grpc-message, percent-decoded, bounded
  // Health/Check only: the HealthCheckResponse's status ("SERVING",
  // "NOT_SERVING", "UNKNOWN", "SERVICE_UNKNOWN"); empty when no message came.
  std::string serving_status;
};

// gRPC's canonical status codes, 0-16.
inline constexpr int kGrpcStatusCodes = 17;
// The canonical name of a gRPC status code ("UNIMPLEMENTED"); empty outside
// 0-16.
std::string_view grpc_status_name(int code);

struct Warning {
  std::string code;  // e.g. "tls_expiring_soon"
  std::string message;
};

struct ProbeResult {
  std::string target;  // Target::name
  std::string url;
  ProbeKind kind = ProbeKind::tcp;
  std::string address;  // the IP probed; empty when resolution failed
  // Target::vantage: empty means the prober's own vantage.
  std::string vantage;
  // Target::address_labels of `address`: what discovery knows about it.
  std::map<std::string, std::string> address_labels;

  bool success = false;
  Diagnosis diagnosis = Diagnosis::ok;
  std::optional<Phase> failed_phase;
  std::string message;     // what exactly happened, for a person
  bool cancelled = false;  // stopped by its owner, not by what it observed

  WallClock::time_point started_at{};
  Duration duration{};  // monotonic, whole attempt
  PhaseDurations phases;

  std::optional<TlsInfo> tls;
  int http_status = 0;  // https only, 0 when no status line arrived
  // grpc only, once the server's SETTINGS came and the call was sent.
  std::optional<GrpcInfo> grpc;
  std::vector<Warning> warnings;

  // Target::expect, and -- once apply_expectation has judged the result --
  // the diagnosis the probe itself ended in (`success` and `diagnosis` then
  // say whether that was what the target expects).
  DiagnosisSet expect;
  std::optional<Diagnosis> observed;
};

// A result headed with what it is a result of (name, URL, kind, vantage),
// started now; the probe fills in the rest.
ProbeResult result_for(const Target& target);

// Judges a finished result against its expectation (ProbeResult::expect),
// once; nothing to do without one, or for a cancelled probe.
// - It ended in an expected code: success, diagnosis ok, `observed` that code.
// - The connection opened (every layer passed, or -- when only codes of a
//   connection that never opens are expected -- a later layer failed):
//   unexpectedly_reachable, its message saying how far it got.
// - Another failure (dns_not_found where blocked is expected): it stays that
//   failure, its message naming what was expected.
void apply_expectation(ProbeResult& result);

}  // namespace meshprobe
