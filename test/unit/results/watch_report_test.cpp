#include "agent/results/watch_report.h"

#include <boost/json.hpp>
#include <gtest/gtest.h>

namespace meshprobe {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;

// 2026-12-04T18:03:11Z
constexpr WallClock::time_point kAt{std::chrono::seconds{1796407391}};

ProbeResult result(std::string target, std::string address, Diagnosis diagnosis) {
  ProbeResult r;
  r.target = std::move(target);
  r.url = "tcp://" + r.target;
  r.address = std::move(address);
  r.success = diagnosis == Diagnosis::ok;
  r.diagnosis = diagnosis;
  r.started_at = kAt;
  return r;
}

HygieneReport hygiene_with(std::vector<std::string> codes) {
  HygieneReport report;
  report.ran = true;
  for (std::string& c : codes) {
    report.findings.push_back(kube::Finding{std::move(c), "KIND/NAME", "", "message", "remedy"});
  }
  return report;
}

TEST(WatchStates, TargetWhoseAddressesAllPassIsOk) {
  const auto states = target_states(
      {result("webhook", "10.0.0.1", Diagnosis::ok), result("webhook", "10.0.0.2", Diagnosis::ok)},
      nullptr);
  EXPECT_EQ(states, (std::vector<WatchedTarget>{{"webhook", "ok"}}));
}

TEST(WatchStates, OneFailingAddressMakesTheTargetFailWithItsCode) {
  const auto states = target_states({result("webhook", "10.0.0.1", Diagnosis::ok),
                                     result("webhook", "10.0.0.2", Diagnosis::tcp_refused)},
                                    nullptr);
  EXPECT_EQ(states, (std::vector<WatchedTarget>{{"webhook", "tcp_refused"}}));
}

TEST(WatchStates, DistinctCodesOfATargetAreJoinedOnce) {
  const auto states = target_states({result("xds", "10.0.0.1", Diagnosis::tcp_refused),
                                     result("xds", "10.0.0.2", Diagnosis::tcp_timeout),
                                     result("xds", "10.0.0.3", Diagnosis::tcp_refused)},
                                    nullptr);
  EXPECT_EQ(states, (std::vector<WatchedTarget>{{"xds", "tcp_refused+tcp_timeout"}}));
}

TEST(WatchStates, TargetsKeepTheOrderTheyFirstAppearIn) {
  const auto states = target_states(
      {result("b", "10.0.0.1", Diagnosis::ok), result("a", "10.0.0.2", Diagnosis::tcp_refused),
       result("b", "10.0.0.3", Diagnosis::ok)},
      nullptr);
  EXPECT_EQ(states, (std::vector<WatchedTarget>{{"b", "ok"}, {"a", "tcp_refused"}}));
}

TEST(WatchStates, HygieneIsAStateOfItsOwnWhenItRan) {
  const HygieneReport findings = hygiene_with({"webhook_ca_mismatch", "webhook_ca_mismatch"});
  const auto states = target_states({result("webhook", "10.0.0.1", Diagnosis::ok)}, &findings);
  EXPECT_EQ(states,
            (std::vector<WatchedTarget>{{"webhook", "ok"},
                                        {std::string(kHygieneStateName), "webhook_ca_mismatch"}}));
}

TEST(WatchStates, HygieneThatCouldNotCheckEverythingIsNotOk) {
  HygieneReport partial = hygiene_with({});
  partial.incomplete_checks = {"webhook_stale_revision"};
  const auto states = target_states({}, &partial);
  EXPECT_EQ(states, (std::vector<WatchedTarget>{{std::string(kHygieneStateName), "incomplete"}}));
}

TEST(WatchStates, HygieneThatDidNotRunIsLeftOut) {
  const HygieneReport not_run;
  EXPECT_TRUE(target_states({}, &not_run).empty());
}

TEST(WatchChanges, SameStatesAreNoChange) {
  const std::vector<WatchedTarget> states{{"webhook", "tcp_refused"}};
  EXPECT_TRUE(state_changes(states, states).empty());
}

TEST(WatchChanges, ChangedStateNamesBothSides) {
  EXPECT_EQ(state_changes({{"webhook", "tcp_refused"}, {"xds", "ok"}},
                          {{"webhook", "ok"}, {"xds", "ok"}}),
            (std::vector<StateChange>{{"webhook", "tcp_refused", "ok"}}));
}

TEST(WatchChanges, NewAndGoneTargetsHaveAnEmptySide) {
  EXPECT_EQ(state_changes({{"old", "ok"}}, {{"new", "tcp_refused"}}),
            (std::vector<StateChange>{{"new", "", "tcp_refused"}, {"old", "ok", ""}}));
}

TEST(WatchChangeLine, NamesTimeTargetAndBothStates) {
  EXPECT_EQ(change_line(kAt, {"istiod-webhook", "tcp_refused", "ok"}),
            "2026-12-04T18:03:11Z istiod-webhook tcp_refused -> ok\n");
}

TEST(WatchChangeLine, NewAndGoneStandForTheEmptySide) {
  EXPECT_EQ(change_line(kAt, {"a", "", "ok"}), "2026-12-04T18:03:11Z a new -> ok\n");
  EXPECT_EQ(change_line(kAt, {"a", "ok", ""}), "2026-12-04T18:03:11Z a ok -> gone\n");
}

TEST(WatchFrame, HeaderNamesIntervalRoundAndUtcTime) {
  EXPECT_EQ(frame_header(2s, 3, kAt), "every 2s \u00b7 round 3 \u00b7 18:03:11\n");
  EXPECT_EQ(frame_header(500ms, 1, kAt), "every 500ms \u00b7 round 1 \u00b7 18:03:11\n");
}

TEST(WatchNdjson, IsCheckJsonWithRoundAndTimeOnOneLine) {
  const std::string line = round_ndjson(
      4, kAt, {result("webhook", "10.0.0.1", Diagnosis::tcp_refused)}, "bastion", nullptr);
  ASSERT_FALSE(line.empty());
  EXPECT_EQ(line.back(), '\n');
  EXPECT_EQ(line.find('\n'), line.size() - 1);
  const json::object object = json::parse(line).as_object();
  EXPECT_EQ(object.at("round").as_int64(), 4);
  EXPECT_EQ(object.at("time").as_string(), "2026-12-04T18:03:11Z");
  EXPECT_EQ(object.at("summary"), json::parse(R"({"total": 1, "failed": 1})"));
  EXPECT_EQ(object.at("results").as_array().at(0).at("diagnosis").as_string(), "tcp_refused");
  EXPECT_EQ(object.at("results").as_array().at(0).at("vantage").as_string(), "bastion");
}

TEST(WatchNdjson, CarriesHygieneWhenItRan) {
  const HygieneReport findings = hygiene_with({"webhook_ca_mismatch"});
  const json::object object = json::parse(round_ndjson(1, kAt, {}, "local", &findings)).as_object();
  EXPECT_EQ(object.at("hygiene").as_array().at(0).at("code").as_string(), "webhook_ca_mismatch");
}

TEST(WatchTerminal, EachLineIsARowWithoutWrapping) {
  EXPECT_EQ(terminal_rows("a\n\nbcd\n", 0), 3u);
  EXPECT_EQ(terminal_rows("a\nlast line without newline", 0), 2u);
}

TEST(WatchTerminal, LineWiderThanTheTerminalTakesMoreRows) {
  EXPECT_EQ(terminal_rows(std::string(10, 'x') + "\n", 10), 1u);
  EXPECT_EQ(terminal_rows(std::string(11, 'x') + "\n", 10), 2u);
  EXPECT_EQ(terminal_rows(std::string(25, 'x') + "\n", 10), 3u);
}

TEST(WatchTerminal, EscapeSequencesTakeNoColumns) {
  EXPECT_EQ(terminal_rows("\x1b[31mFAIL\x1b[0m 12345\n", 10), 1u);
}

TEST(WatchTerminal, Utf8CharacterTakesOneColumn) {
  // "every 2s · round 1" is 18 characters, 19 bytes.
  EXPECT_EQ(terminal_rows("every 2s \u00b7 round 1\n", 18), 1u);
}

TEST(WatchTerminal, EraseMovesUpOverThePreviousFrameAndClears) {
  EXPECT_EQ(erase_rows(5), "\r\x1b[5A\x1b[J");
  EXPECT_EQ(erase_rows(0), "");
}

}  // namespace
}  // namespace meshprobe
