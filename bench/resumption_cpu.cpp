// Server CPU per probe with TLS session resumption: one TLS server (nginx's
// worker, a Go crypto/tls server) probed by meshprobe's engine at the
// defaults' mix of handshakes against `full_verify_interval: 0s` (every
// probe a full handshake), in one run.
//
//   meshprobe-bench-resumption NAME PORT SERVER_PID CA_FILE [PROBES] [BLOCKS]
//
// The defaults (interval 10s, full_verify_interval 5m) make 30 probes per
// full verification; here time is scaled down: a probe every kPace and
// full_verify_interval 30 * kPace, so each block of PROBES probes has the
// defaults' ratio. A third mode resumes every probe but a block's first
// (full_verify_interval 1h): what a resumed handshake alone costs the
// server, which bounds the saving. Blocks of the modes alternate (a burst of
// load on this shared machine hits all alike), each with a fresh Prober. The
// server's CPU is read from /proc/PID/task/*/schedstat (nanoseconds on CPU,
// every thread: Go's runtime has many).
#include <boost/asio/io_context.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "probes/ca_bundle.h"
#include "probes/prober.h"

namespace {

using namespace std::chrono_literals;
using meshprobe::Target;

constexpr auto kPace = 5ms;
constexpr int kProbesPerFullVerification = 30;  // 5 m / 10 s

double server_cpu_ns(const std::string& pid) {
  double total = 0;
  for (const auto& task : std::filesystem::directory_iterator("/proc/" + pid + "/task")) {
    std::ifstream schedstat(task.path() / "schedstat");
    double on_cpu = 0;
    if (schedstat >> on_cpu) total += on_cpu;
  }
  return total;
}

struct Block {
  double server_ns = 0;
  int probes = 0;
  int resumed = 0;
};

Block run_block(const std::shared_ptr<const Target>& target, const std::string& pid, int probes) {
  boost::asio::io_context io;
  meshprobe::Prober prober(io);
  Block block;
  const double before = server_cpu_ns(pid);
  for (int i = 0; i < probes; ++i) {
    const auto next = std::chrono::steady_clock::now() + kPace;
    std::vector<meshprobe::ProbeResult> results;
    prober.probe(target, [&](std::vector<meshprobe::ProbeResult> r) { results = std::move(r); });
    io.restart();
    io.run();
    if (results.size() != 1 || !results[0].success || !results[0].tls) {
      throw std::runtime_error("a probe failed: " +
                               (results.empty() ? std::string("no result") : results[0].message));
    }
    ++block.probes;
    if (results[0].tls->handshake == meshprobe::HandshakeKind::resumed) ++block.resumed;
    std::this_thread::sleep_until(next);
  }
  block.server_ns = server_cpu_ns(pid) - before;
  return block;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 5) {
    std::fprintf(stderr,
                 "usage: meshprobe-bench-resumption NAME PORT SERVER_PID CA_FILE [PROBES] "
                 "[BLOCKS]\n");
    return 2;
  }
  const std::string name = argv[1];
  const std::string pid = argv[3];
  const int probes = argc > 5 ? std::atoi(argv[5]) : 1000;
  const int blocks = argc > 6 ? std::atoi(argv[6]) : 3;
  try {
    auto parsed = meshprobe::parse_target_url(std::string("tls://127.0.0.1:") + argv[2]);
    auto bundle = meshprobe::CaBundle::from_file(argv[4]);
    if (!parsed || !bundle) throw std::runtime_error("bad port or CA file");
    Target base = std::move(parsed).value();
    base.ca = *bundle;
    base.server_name = "istiod.istio-system.svc";
    Target every = base;
    every.full_verify_interval = 0ms;
    Target defaults = base;
    defaults.full_verify_interval =
        std::chrono::duration_cast<std::chrono::milliseconds>(kPace * kProbesPerFullVerification);
    Target seldom = base;
    seldom.full_verify_interval = std::chrono::hours(1);
    auto every_probe = std::make_shared<const Target>(every);
    auto at_defaults = std::make_shared<const Target>(defaults);
    auto resumed_only = std::make_shared<const Target>(seldom);

    run_block(every_probe, pid, probes / 10);  // warm-up: connections, the server's caches
    Block full, resumed, alone;
    for (int b = 0; b < blocks; ++b) {
      for (auto [target, sum] : {std::pair{every_probe, &full}, std::pair{at_defaults, &resumed},
                                 std::pair{resumed_only, &alone}}) {
        const Block one = run_block(target, pid, probes);
        sum->server_ns += one.server_ns;
        sum->probes += one.probes;
        sum->resumed += one.resumed;
      }
    }
    if (full.resumed != 0) throw std::runtime_error("a 0s probe resumed");
    if (alone.resumed == 0) throw std::runtime_error("the 1h probes never resumed");
    const double full_us = full.server_ns / 1000.0 / full.probes;
    const double defaults_us = resumed.server_ns / 1000.0 / resumed.probes;
    const double ratio = full_us / defaults_us;
    // A block's first probe is full, at full_us: the rest are resumed.
    const double resumed_us =
        (alone.server_ns / 1000.0 - full_us * (alone.probes - alone.resumed)) / alone.resumed;
    // At the defaults' one full handshake in 30, a 3x saving needs a resumed
    // one to cost at most (30/3 - 1)/29 of a full one.
    constexpr double kResumedShareFor3x = (30.0 / 3 - 1) / 29;
    std::printf(
        "%-28s full_verify_interval 0s %7.1f us/probe (baseline), defaults %7.1f us/probe "
        "(%d of %d resumed): %.2fx less (target >= 3x)\n",
        (name + " server CPU").c_str(), full_us, defaults_us, resumed.resumed, resumed.probes,
        ratio);
    std::printf(
        "%-28s a resumed handshake alone %7.1f us/probe: %.2f of a full one (3x at the "
        "defaults needs <= %.2f)\n",
        "", resumed_us, resumed_us / full_us, kResumedShareFor3x);
    std::printf("BENCH resumption_%s_server_full_cpu_us=%.1f\n", name.c_str(), full_us);
    std::printf("BENCH resumption_%s_server_resumed_cpu_us=%.1f\n", name.c_str(), resumed_us);
    std::printf("BENCH resumption_%s_resumed_over_full=%.3f\n", name.c_str(),
                resumed_us / full_us);
    std::printf("BENCH resumption_%s_server_defaults_cpu_us=%.1f\n", name.c_str(), defaults_us);
    std::printf("BENCH resumption_%s_server_ratio=%.2f\n", name.c_str(), ratio);
    std::printf("BENCH resumption_%s_resumed_share=%.3f\n", name.c_str(),
                static_cast<double>(resumed.resumed) / resumed.probes);
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "meshprobe-bench-resumption %s: %s\n", name.c_str(), e.what());
    return 1;
  }
}
