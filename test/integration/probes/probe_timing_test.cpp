// Phase durations match what the server did, and no server holds a probe
// past its timeout (the README's Design notes: correct timing, never a hang).

#include <gtest/gtest.h>

#include "probe_harness.h"

namespace meshprobe::test {
namespace {

using namespace std::chrono_literals;

class ProbeTiming : public ProbeTest {};

TEST_F(ProbeTiming, AppPhaseMatchesServerDelay) {
  ServerOptions options = serving(ServerMode::tls_http, istiod_leaf());
  options.response_delay = 200ms;
  TlsTestServer server(options);

  ProbeResult result = probe_single(loopback_target("https", server.port(), "/ready"));

  ASSERT_TRUE(result.success) << describe(result);
  ASSERT_TRUE(result.phases.app.has_value());
  EXPECT_GE(*result.phases.app, 200ms);
  EXPECT_LE(*result.phases.app, 250ms);
}

TEST_F(ProbeTiming, HungServerNeverOutlivesTimeout) {
  TlsTestServer server(ServerOptions{.mode = ServerMode::tcp_silent});
  auto target = loopback_target("https", server.port(), "/ready");
  target->timeout = 500ms;

  ProbeRun run = run_probe(target);

  ASSERT_EQ(run.completions, 1);
  EXPECT_GE(run.elapsed, 500ms);
  EXPECT_LE(run.elapsed, 700ms);
  ASSERT_EQ(run.results.size(), 1u);
  EXPECT_LE(run.results[0].duration, 700ms);
}

TEST_F(ProbeTiming, HungHandlerNeverOutlivesTimeout) {
  ServerOptions options = serving(ServerMode::tls_http, istiod_leaf());
  options.hang = true;
  TlsTestServer server(options);
  auto target = loopback_target("https", server.port(), "/ready");
  target->timeout = 500ms;

  ProbeRun run = run_probe(target);

  ASSERT_EQ(run.completions, 1);
  // The budget runs from the start of the probe, not per phase.
  EXPECT_GE(run.elapsed, 500ms);
  EXPECT_LE(run.elapsed, 700ms);
}

}  // namespace
}  // namespace meshprobe::test
