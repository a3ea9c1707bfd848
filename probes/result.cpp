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
  return result;
}

}  // namespace meshprobe
