#include "agent/results/store.h"

#include <gtest/gtest.h>

namespace meshprobe {
namespace {

std::shared_ptr<const Target> make_target(const std::string& name, const std::string& url) {
  auto target = parse_target_url(url);
  target->name = name;
  return std::make_shared<const Target>(std::move(*target));
}

ProbeResult result(const std::string& address, bool success, Diagnosis diagnosis = Diagnosis::ok) {
  ProbeResult r;
  r.address = address;
  r.success = success;
  r.diagnosis = success ? Diagnosis::ok : diagnosis;
  r.started_at = WallClock::now();
  r.duration = std::chrono::milliseconds(3);
  return r;
}

class ResultsStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store.set_targets({{make_target("webhook", "tcp://istiod:15017"), std::chrono::seconds(10)},
                       {make_target("xds", "tcp://istiod:15012"), std::chrono::seconds(10)}});
  }
  const AddressState& address(const std::string& target, const std::string& addr) {
    return store.find(target)->addresses.at(addr);
  }
  ResultsStore store;
};

TEST_F(ResultsStoreTest, KeepsTheLastResultPerAddress) {
  store.record_round(
      "webhook", {result("192.0.2.1", true), result("192.0.2.2", false, Diagnosis::tcp_timeout)});
  EXPECT_TRUE(address("webhook", "192.0.2.1").last.success);
  EXPECT_EQ(address("webhook", "192.0.2.2").last.diagnosis, Diagnosis::tcp_timeout);
  EXPECT_EQ(store.find("webhook")->rounds, 1u);
}

TEST_F(ResultsStoreTest, StreaksCountConsecutiveOutcomes) {
  for (int i = 0; i < 3; ++i) store.record_round("webhook", {result("192.0.2.1", true)});
  EXPECT_EQ(address("webhook", "192.0.2.1").consecutive_successes, 3u);
  store.record_round("webhook", {result("192.0.2.1", false, Diagnosis::tcp_refused)});
  store.record_round("webhook", {result("192.0.2.1", false, Diagnosis::tcp_refused)});
  EXPECT_EQ(address("webhook", "192.0.2.1").consecutive_successes, 0u);
  EXPECT_EQ(address("webhook", "192.0.2.1").consecutive_failures, 2u);
}

TEST_F(ResultsStoreTest, TransitionsCountFlipsBetweenOkAndFailing) {
  for (bool ok : {true, false, false, true, false}) {
    store.record_round("webhook", {result("192.0.2.1", ok, Diagnosis::tcp_timeout)});
  }
  EXPECT_EQ(address("webhook", "192.0.2.1").transitions, 3u);
}

TEST_F(ResultsStoreTest, LastSuccessIsTheLatestPassingProbe) {
  EXPECT_FALSE(store.find("webhook")->addresses.count("192.0.2.1"));
  store.record_round("webhook", {result("192.0.2.1", false, Diagnosis::tcp_timeout)});
  EXPECT_FALSE(address("webhook", "192.0.2.1").last_success);
  auto ok = result("192.0.2.1", true);
  const auto at = ok.started_at;
  store.record_round("webhook", {ok});
  store.record_round("webhook", {result("192.0.2.1", false, Diagnosis::tcp_timeout)});
  EXPECT_EQ(address("webhook", "192.0.2.1").last_success, at);
}

TEST_F(ResultsStoreTest, HistoryKeepsTheMostRecentRounds) {
  for (std::size_t i = 0; i < kHistoryLength + 5; ++i) {
    store.record_round("webhook", {result("192.0.2.1", i % 2 == 0, Diagnosis::tcp_timeout)});
  }
  const auto& history = address("webhook", "192.0.2.1").history;
  ASSERT_EQ(history.size(), kHistoryLength);
  EXPECT_EQ(history.back().success, (kHistoryLength + 4) % 2 == 0);
  EXPECT_LE(history.front().at, history.back().at);
}

TEST_F(ResultsStoreTest, AddressesMissingFromARoundAreDroppedAndReturned) {
  store.record_round("webhook", {result("192.0.2.1", true), result("192.0.2.2", true)});
  const auto dropped = store.record_round("webhook", {result("", false, Diagnosis::dns_not_found)});
  EXPECT_EQ(dropped, (std::vector<std::string>{"192.0.2.1", "192.0.2.2"}));
  EXPECT_EQ(store.find("webhook")->addresses.size(), 1u);
}

TEST_F(ResultsStoreTest, StateSurvivesAReloadThatKeepsNameAndUrl) {
  store.record_round("webhook", {result("192.0.2.1", true)});
  store.set_targets({{make_target("webhook", "tcp://istiod:15017"), std::chrono::seconds(5)}});
  ASSERT_NE(store.find("webhook"), nullptr);
  EXPECT_EQ(store.find("webhook")->rounds, 1u);
  EXPECT_EQ(store.find("webhook")->interval, std::chrono::seconds(5));
  EXPECT_EQ(store.find("xds"), nullptr);
}

TEST_F(ResultsStoreTest, AChangedUrlStartsAfresh) {
  store.record_round("webhook", {result("192.0.2.1", true)});
  store.set_targets({{make_target("webhook", "tcp://istiod:443"), std::chrono::seconds(10)}});
  EXPECT_EQ(store.find("webhook")->rounds, 0u);
  EXPECT_TRUE(store.find("webhook")->addresses.empty());
}

TEST_F(ResultsStoreTest, RoundsOfRemovedTargetsAreIgnored) {
  EXPECT_TRUE(store.record_round("gone", {result("192.0.2.1", true)}).empty());
}

TEST_F(ResultsStoreTest, FirstRoundIsCompleteOnceEveryTargetRan) {
  EXPECT_FALSE(store.first_round_complete());
  store.record_round("webhook", {result("192.0.2.1", true)});
  EXPECT_FALSE(store.first_round_complete());
  store.record_round("xds", {result("192.0.2.1", false, Diagnosis::grpc_not_h2)});
  EXPECT_TRUE(store.first_round_complete());
}

TEST_F(ResultsStoreTest, SkippedRoundsAreCounted) {
  store.record_skip("xds");
  store.record_skip("xds");
  EXPECT_EQ(store.find("xds")->skipped, 2u);
}

}  // namespace
}  // namespace meshprobe
