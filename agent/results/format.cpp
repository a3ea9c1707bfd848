#include "agent/results/format.h"

#include <fmt/format.h>

namespace meshprobe {

double in_seconds(Duration duration) { return std::chrono::duration<double>(duration).count(); }

std::string format_latency(Duration duration) {
  const double millis = std::chrono::duration<double, std::milli>(duration).count();
  if (millis < 1000) return fmt::format("{:.1f} ms", millis);
  return fmt::format("{:.2f} s", millis / 1000);
}

std::string grpc_summary(const GrpcInfo& grpc) {
  std::string out = grpc.method + ": ";
  if (grpc.status) {
    const std::string_view name = grpc_status_name(*grpc.status);
    out += fmt::format("grpc-status {}{}{}", *grpc.status, name.empty() ? "" : " ", name);
    if (!grpc.message.empty()) out += fmt::format(" (\"{}\")", grpc.message);
    if (!grpc.serving_status.empty()) out += ", " + grpc.serving_status;
  } else if (grpc.http_status != 0) {
    out += fmt::format("no grpc-status; HTTP {}, content-type \"{}\"", grpc.http_status,
                       grpc.content_type);
  } else {
    out += "no answer";
  }
  return out;
}

std::string rfc3339(WallClock::time_point time) {
  namespace chrono = std::chrono;
  const auto whole_seconds = chrono::floor<chrono::seconds>(time);
  const auto day = chrono::floor<chrono::days>(whole_seconds);
  const chrono::year_month_day date{day};
  const chrono::hh_mm_ss time_of_day{whole_seconds - day};
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z", static_cast<int>(date.year()),
                     static_cast<unsigned>(date.month()), static_cast<unsigned>(date.day()),
                     time_of_day.hours().count(), time_of_day.minutes().count(),
                     time_of_day.seconds().count());
}

std::string expected_outcome(const ProbeResult& result) {
  if (!result.success || !result.observed || *result.observed == Diagnosis::ok) return {};
  return kBlocked.contains(*result.observed) ? "blocked (expected)" : "failed (expected)";
}

}  // namespace meshprobe
