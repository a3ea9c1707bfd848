// How long the /metrics exposition of a large agent takes to build, without
// the network: 10,000 targets (10% TLS), one address each, a full history.
#include <chrono>
#include <cstdio>
#include <cstdlib>

#include "agent/results/metrics.h"

int main(int argc, char** argv) {
  using namespace meshprobe;
  const int targets = argc > 1 ? std::atoi(argv[1]) : 10000;
  ResultsStore store;
  std::vector<TargetSpec> specs;
  for (int i = 0; i < targets; ++i) {
    const bool tls = i % 10 == 0;
    auto target =
        parse_target_url(std::string(tls ? "tls" : "tcp") + "://10.0." + std::to_string(i / 250) +
                         "." + std::to_string(i % 250) + ":15017");
    target->name = (tls ? "tls-" : "tcp-") + std::to_string(i);
    specs.push_back({std::make_shared<const Target>(std::move(*target)), std::chrono::seconds(10)});
  }
  store.set_targets(specs);
  for (int round = 0; round < 30; ++round) {
    for (const TargetSpec& spec : specs) {
      ProbeResult r;
      r.target = spec.target->name;
      r.url = spec.target->url;
      r.kind = spec.target->kind;
      r.address = spec.target->host;
      r.success = true;
      r.started_at = WallClock::now();
      r.duration = std::chrono::microseconds(300);
      r.phases.connect = std::chrono::microseconds(100);
      if (spec.target->kind == ProbeKind::tls) {
        r.phases.tls = std::chrono::microseconds(200);
        r.tls = TlsInfo{.version = "TLSv1.3",
                        .cipher = "TLS_AES_128_GCM_SHA256",
                        .alpn = "",
                        .chain = {},
                        .verified = true,
                        .earliest_expiry = WallClock::now() + std::chrono::hours(24 * 30)};
      }
      store.record_round(spec.target->name, {r});
    }
  }
  Metrics metrics("bench", "bench-node");
  std::size_t bytes = 0;
  const int runs = 20;
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < runs; ++i) bytes = metrics.serialize(store).size();
  const double ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count() /
      runs;
  std::printf("metrics serialize: %d targets, %zu bytes, %.2f ms\n", targets, bytes, ms);
  std::printf("BENCH metrics_serialize_ms=%.2f\nBENCH metrics_serialize_bytes=%zu\n", ms, bytes);
  return 0;
}
