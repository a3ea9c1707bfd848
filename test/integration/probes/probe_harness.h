// Runs the real probe engine against the in-process test servers: targets on
// loopback that trust a CA made for the test, and a blocking "probe it now".
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "probes/result.h"
#include "probes/target.h"
#include "test/support/test_pki.h"
#include "test/support/tls_test_server.h"

namespace meshprobe::test {

// The name the API server uses for istiod's webhook Service.
inline constexpr std::string_view kIstiodServiceName = "istiod.istio-system.svc";

struct ProbeRun {
  std::vector<ProbeResult> results;
  int completions = 0;
  std::chrono::steady_clock::duration elapsed{};  // probe() until the completion ran
};

// Probes on a fresh io_context until the completion runs (or a generous
// margin past the target's timeout, which fails the test).
ProbeRun run_probe(std::shared_ptr<const Target> target);

// The one result of probing a single address; a test failure when the
// completion ran other than once or carried other than one result.
ProbeResult probe_single(std::shared_ptr<const Target> target);

// "diagnosis=... phase=... address=... message=...", for failure output.
std::string describe(const ProbeResult& result);

// The failed phase's name, or "none".
std::string_view failed_phase(const ProbeResult& result);

class ProbeTest : public ::testing::Test {
 protected:
  // One CA for the whole test binary: it signs every leaf the servers use.
  static const TestCa& test_ca();

  // An istiod-like leaf: empty subject, SANs of the webhook Service names.
  static TestCert istiod_leaf(Validity validity = {});

  // Server options for `mode`, serving `leaf` (chain: the leaf alone).
  static ServerOptions serving(ServerMode mode, const TestCert& leaf);

  // A target for SCHEME://127.0.0.1:PORT/PATH that trusts `ca_pem`, expects
  // the webhook Service name and gives up after two seconds.
  static std::shared_ptr<Target> loopback_target(std::string_view scheme, std::uint16_t port,
                                                 std::string_view path = "",
                                                 const std::string& ca_pem = test_ca().cert_pem);
};

}  // namespace meshprobe::test
