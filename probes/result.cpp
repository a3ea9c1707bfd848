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
