#include "agent/scheduler.h"

#include <boost/asio/io_context.hpp>
#include <gtest/gtest.h>

#include <map>
#include <set>

#include "probes/prober.h"
#include "test/support/tls_test_server.h"

namespace meshprobe {
namespace {

using namespace std::chrono_literals;

TEST(StableOffset, IsTheSameOnEveryCallAndInsideTheInterval) {
  const auto a = stable_offset("node-1", "istiod-webhook", 10s);
  EXPECT_EQ(a, stable_offset("node-1", "istiod-webhook", 10s));
  EXPECT_GE(a, 0s);
  EXPECT_LT(a, 10s);
}

TEST(StableOffset, SpreadsTargetsEvenlyOverTheInterval) {
  std::map<long, int> per_second;
  for (int i = 0; i < 1000; ++i) {
    const auto offset = stable_offset("node-1", "target-" + std::to_string(i), 10s);
    ++per_second[std::chrono::duration_cast<std::chrono::seconds>(offset).count()];
  }
  ASSERT_EQ(per_second.size(), 10u);
  for (const auto& [second, count] : per_second) {
    EXPECT_GT(count, 60) << "second " << second;
    EXPECT_LT(count, 140) << "second " << second;
  }
}

TEST(StableOffset, DiffersBetweenNodesSoAFleetIsNotInLockStep) {
  std::set<std::int64_t> offsets;
  for (int node = 0; node < 100; ++node) {
    offsets.insert(stable_offset("node-" + std::to_string(node), "istiod-webhook", 10s).count());
  }
  EXPECT_GT(offsets.size(), 95u);
}

TEST(MaxJitter, IsFivePercentOfTheIntervalUpToOneSecond) {
  EXPECT_EQ(max_jitter(10s), 500ms);
  EXPECT_EQ(max_jitter(60s), 1s);
}

// Runs a scheduler over real probes against an in-process server.
class SchedulerTest : public ::testing::Test {
 protected:
  std::shared_ptr<const Target> target(const std::string& name, const std::string& scheme,
                                       std::chrono::milliseconds timeout) {
    auto t = parse_target_url(scheme + "://127.0.0.1:" + std::to_string(server_.port()));
    t->name = name;
    t->timeout = timeout;
    return std::make_shared<const Target>(std::move(*t));
  }

  SchedulerEvents recording_events() {
    SchedulerEvents events;
    events.round_done = [this](const std::string& name, std::vector<ProbeResult>) {
      ++rounds[name];
    };
    events.round_skipped = [this](const std::string& name) { ++skipped[name]; };
    events.in_flight_changed = [this](int n) { max_in_flight = std::max(max_in_flight, n); };
    return events;
  }

  // Schedules "discovered" at a 10 s interval (its first round more than
  // the jitter's 0.5 s away), then replaces it with `replacement`: the
  // rounds of the next 300 ms are the ones the replacement started.
  int rounds_started_by_replacing(Scheduler& scheduler,
                                  std::shared_ptr<const Target> replacement) {
    EXPECT_GT(stable_offset("node", "discovered", 10s), 1s);
    scheduler.set_targets({{target("discovered", "tcp", 50ms), 10s}});
    io.run_for(10ms);
    const int before = rounds["discovered"];
    scheduler.set_targets({{std::move(replacement), 10s}});
    io.run_for(300ms);
    return rounds["discovered"] - before;
  }

  test::TlsTestServer server_{test::ServerOptions{.mode = test::ServerMode::tcp_silent}};
  boost::asio::io_context io;
  Prober prober{io};
  std::map<std::string, int> rounds;
  std::map<std::string, int> skipped;
  int max_in_flight = 0;
};

TEST_F(SchedulerTest, ProbesEveryTargetEveryInterval) {
  Scheduler scheduler(io, prober, "node", 16, recording_events());
  std::vector<TargetSpec> specs;
  for (const char* name : {"a", "b", "c"}) specs.push_back({target(name, "tcp", 50ms), 100ms});
  scheduler.set_targets(specs);
  io.run_for(1050ms);
  for (const char* name : {"a", "b", "c"}) {
    EXPECT_GE(rounds[name], 9) << name;
    EXPECT_LE(rounds[name], 11) << name;
  }
}

TEST_F(SchedulerTest, ATargetNeverOverlapsItself) {
  Scheduler scheduler(io, prober, "node", 16, recording_events());
  // The silent server holds each TLS handshake until the 250 ms timeout.
  scheduler.set_targets({{target("slow", "tls", 250ms), 100ms}});
  io.run_for(1s);
  EXPECT_EQ(max_in_flight, 1);
  EXPECT_GE(skipped["slow"], 4);
  EXPECT_LE(rounds["slow"], 4);
}

TEST_F(SchedulerTest, ConcurrencyStaysWithinTheLimit) {
  Scheduler scheduler(io, prober, "node", 3, recording_events());
  std::vector<TargetSpec> specs;
  for (int i = 0; i < 10; ++i)
    specs.push_back({target("t" + std::to_string(i), "tls", 100ms), 200ms});
  scheduler.set_targets(specs);
  io.run_for(1s);
  EXPECT_EQ(max_in_flight, 3);
  int total = 0;
  for (const auto& [name, n] : rounds) total += n;
  EXPECT_GE(total, 20);  // three lanes of 100 ms probes for a second, minus the start
}

TEST_F(SchedulerTest, StopCancelsProbesInFlight) {
  Scheduler scheduler(io, prober, "node", 16, recording_events());
  scheduler.set_targets({{target("slow", "tls", 2000ms), 2000ms}});
  io.run_for(2100ms);  // first round starts within the interval
  ASSERT_EQ(scheduler.in_flight() + rounds["slow"], 1);
  scheduler.stop();
  const auto start = std::chrono::steady_clock::now();
  io.run_for(1s);
  EXPECT_EQ(scheduler.in_flight(), 0);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 500ms);
}

TEST_F(SchedulerTest, ReloadKeepsAnUnchangedTargetAndDropsARemovedOne) {
  Scheduler scheduler(io, prober, "node", 16, recording_events());
  scheduler.set_targets(
      {{target("kept", "tcp", 50ms), 100ms}, {target("gone", "tcp", 50ms), 100ms}});
  io.run_for(300ms);
  scheduler.set_targets({{target("kept", "tcp", 50ms), 100ms}});
  const int gone_before = rounds["gone"];
  io.run_for(500ms);
  EXPECT_EQ(rounds["gone"], gone_before);
  EXPECT_GE(rounds["kept"], 6);
}

TEST_F(SchedulerTest, NewAddressesOfAKeptTargetAreProbedAtOnce) {
  Scheduler scheduler(io, prober, "node", 16, recording_events());
  auto moved = std::make_shared<Target>(*target("discovered", "tcp", 50ms));
  moved->addresses = {"127.0.0.1"};  // an endpoint the cluster added
  EXPECT_EQ(rounds_started_by_replacing(scheduler, moved), 1);
}

TEST_F(SchedulerTest, AnUnchangedTargetWaitsForItsRound) {
  Scheduler scheduler(io, prober, "node", 16, recording_events());
  EXPECT_EQ(rounds_started_by_replacing(scheduler, target("discovered", "tcp", 50ms)), 0);
}

}  // namespace
}  // namespace meshprobe
