#include "probe_harness.h"

#include <boost/asio/io_context.hpp>

#include <stdexcept>

#include "probes/ca_bundle.h"
#include "probes/prober.h"

namespace meshprobe::test {
namespace {

// How long past its own timeout a probe may run before the test gives up on
// the engine: far beyond any legitimate delay, short of the CTest timeout.
constexpr std::chrono::seconds kEngineHangMargin{5};

}  // namespace

ProbeRun run_probe(std::shared_ptr<const Target> target) {
  boost::asio::io_context io;
  Prober prober(io);
  ProbeRun run;
  const auto budget = target->timeout + kEngineHangMargin;
  const auto started = std::chrono::steady_clock::now();
  prober.probe(std::move(target), [&run, started](std::vector<ProbeResult> results) {
    run.elapsed = std::chrono::steady_clock::now() - started;
    run.results = std::move(results);
    ++run.completions;
  });
  io.run_for(budget);
  return run;
}

ProbeResult probe_single(std::shared_ptr<const Target> target) {
  ProbeRun run = run_probe(std::move(target));
  EXPECT_EQ(run.completions, 1) << "the completion must run exactly once";
  EXPECT_EQ(run.results.size(), 1u) << "one address probed, so one result";
  if (run.results.empty()) {
    ProbeResult missing;
    missing.message = "no result";
    return missing;
  }
  return run.results.front();
}

std::string_view failed_phase(const ProbeResult& result) {
  return result.failed_phase ? phase_name(*result.failed_phase) : "none";
}

std::string describe(const ProbeResult& result) {
  return "diagnosis=" + std::string(code(result.diagnosis)) +
         " phase=" + std::string(failed_phase(result)) + " address=" + result.address +
         " message=" + result.message;
}

const TestCa& ProbeTest::test_ca() {
  static const TestCa ca = TestCa::create("meshprobe test root");
  return ca;
}

TestCert ProbeTest::istiod_leaf(Validity validity) {
  return test_ca().issue(
      LeafSpec{.common_name = "",
               .sans = {std::string(kIstiodServiceName), "istiod-canary.istio-system.svc"},
               .validity = validity});
}

ServerOptions ProbeTest::serving(ServerMode mode, const TestCert& leaf) {
  ServerOptions options;
  options.mode = mode;
  options.cert_chain_pem = leaf.cert_pem;
  options.key_pem = leaf.key_pem;
  return options;
}

std::shared_ptr<Target> ProbeTest::loopback_target(std::string_view scheme, std::uint16_t port,
                                                   std::string_view path,
                                                   const std::string& ca_pem) {
  std::string url =
      std::string(scheme) + "://127.0.0.1:" + std::to_string(port) + std::string(path);
  auto parsed = parse_target_url(url);
  if (!parsed) throw std::runtime_error(url + ": " + parsed.error().message);
  auto bundle = CaBundle::from_pem(ca_pem, "test");
  if (!bundle) throw std::runtime_error("test CA: " + bundle.error().message);

  auto target = std::make_shared<Target>(std::move(parsed).value());
  target->ca = *bundle;
  target->server_name = std::string(kIstiodServiceName);
  target->timeout = std::chrono::seconds(2);
  return target;
}

}  // namespace meshprobe::test
