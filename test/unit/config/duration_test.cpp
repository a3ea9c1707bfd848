#include "config/duration.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace meshprobe {
namespace {

using std::chrono::milliseconds;
using testing::HasSubstr;

milliseconds parsed(std::string_view text) {
  auto result = parse_duration(text);
  EXPECT_TRUE(result) << text << ": " << (result ? "" : result.error().message);
  return result ? *result : milliseconds{-1};
}

std::string refusal(std::string_view text) {
  auto result = parse_duration(text);
  EXPECT_FALSE(result) << text << " was accepted";
  return result ? std::string() : result.error().message;
}

// ---- accepted -------------------------------------------------------------

TEST(ParseDuration, ReadsMilliseconds) { EXPECT_EQ(parsed("500ms"), milliseconds{500}); }

TEST(ParseDuration, ReadsSeconds) { EXPECT_EQ(parsed("3s"), milliseconds{3000}); }

TEST(ParseDuration, ReadsMinutes) { EXPECT_EQ(parsed("2m"), milliseconds{120'000}); }

TEST(ParseDuration, ReadsHours) { EXPECT_EQ(parsed("1h"), milliseconds{3'600'000}); }

TEST(ParseDuration, AddsPartsWrittenLargestFirst) {
  EXPECT_EQ(parsed("1m30s"), milliseconds{90'000});
}

TEST(ParseDuration, AcceptsEveryUnitInOneDuration) {
  EXPECT_EQ(parsed("1h2m3s4ms"), milliseconds{3'723'004});
}

TEST(ParseDuration, AcceptsAFractionThatIsWholeMilliseconds) {
  EXPECT_EQ(parsed("1.5s"), milliseconds{1500});
}

TEST(ParseDuration, AcceptsAFractionOfAnHour) { EXPECT_EQ(parsed("0.25h"), milliseconds{900'000}); }

TEST(ParseDuration, IgnoresTrailingZerosOfAFraction) {
  EXPECT_EQ(parsed("1.500000000000000s"), milliseconds{1500});
}

TEST(ParseDuration, AcceptsBareZero) { EXPECT_EQ(parsed("0"), milliseconds{0}); }

TEST(ParseDuration, AcceptsZeroWithAUnit) { EXPECT_EQ(parsed("0s"), milliseconds{0}); }

TEST(ParseDuration, AcceptsTheLargestRepresentableDuration) {
  EXPECT_EQ(parsed("2562047788015h12m55s807ms"), milliseconds::max());
}

// ---- refused --------------------------------------------------------------

TEST(ParseDuration, RefusesEmptyText) {
  EXPECT_EQ(refusal(""), "invalid duration \"\": empty (use ms, s, m, h)");
}

TEST(ParseDuration, RefusesANumberWithoutUnit) {
  EXPECT_EQ(refusal("3"), "invalid duration \"3\": missing unit after \"3\" (use ms, s, m, h)");
}

TEST(ParseDuration, RefusesAnUnknownUnitNamingIt) {
  EXPECT_EQ(refusal("3x"), "invalid duration \"3x\": unknown unit \"x\" (use ms, s, m, h)");
}

TEST(ParseDuration, RefusesMicrosecondsAsAnUnknownUnit) {
  EXPECT_THAT(refusal("250us"), HasSubstr("unknown unit \"us\""));
}

TEST(ParseDuration, RefusesSpelledOutUnits) {
  EXPECT_THAT(refusal("3sec"), HasSubstr("unknown unit \"sec\""));
}

TEST(ParseDuration, RefusesNegativeDurations) {
  EXPECT_THAT(refusal("-1s"), HasSubstr("must not be negative"));
}

TEST(ParseDuration, RefusesAPlusSign) {
  EXPECT_THAT(refusal("+1s"), HasSubstr("expected a number"));
}

TEST(ParseDuration, RefusesLeadingWhitespace) {
  EXPECT_THAT(refusal(" 3s"), HasSubstr("expected a number"));
}

TEST(ParseDuration, RefusesWhitespaceBeforeTheUnit) {
  EXPECT_THAT(refusal("3 s"), HasSubstr("unknown unit \" s\""));
}

TEST(ParseDuration, RefusesAFractionWithoutLeadingDigits) {
  EXPECT_THAT(refusal(".5s"), HasSubstr("expected a number"));
}

TEST(ParseDuration, RefusesAPointWithoutFractionDigits) {
  EXPECT_THAT(refusal("1.s"), HasSubstr("expected a number"));
}

TEST(ParseDuration, RefusesAFractionOfAMillisecond) {
  EXPECT_THAT(refusal("1.5ms"), HasSubstr("finer than a millisecond"));
}

TEST(ParseDuration, RefusesASecondsFractionFinerThanAMillisecond) {
  EXPECT_THAT(refusal("0.0001s"), HasSubstr("finer than a millisecond"));
}

TEST(ParseDuration, RefusesUnitsSmallestFirst) {
  EXPECT_THAT(refusal("30s1m"), HasSubstr("largest to smallest"));
}

TEST(ParseDuration, RefusesARepeatedUnit) {
  EXPECT_THAT(refusal("1s1s"), HasSubstr("each at most once"));
}

TEST(ParseDuration, RefusesANumberTooLongForMilliseconds) {
  EXPECT_THAT(refusal("99999999999999999999ms"), HasSubstr("too large"));
}

TEST(ParseDuration, RefusesAUnitThatOverflowsMilliseconds) {
  EXPECT_THAT(refusal("9223372036854775807h"), HasSubstr("too large"));
}

TEST(ParseDuration, RefusesPartsWhoseSumOverflowsMilliseconds) {
  EXPECT_THAT(refusal("2562047788015h12m55s808ms"), HasSubstr("too large"));
}

// ---- formatting -----------------------------------------------------------

TEST(FormatDuration, WritesZeroAsZeroSeconds) { EXPECT_EQ(format_duration(milliseconds{0}), "0s"); }

TEST(FormatDuration, WritesSubSecondDurationsInMilliseconds) {
  EXPECT_EQ(format_duration(milliseconds{500}), "500ms");
}

TEST(FormatDuration, WritesEachUnitLargestFirst) {
  EXPECT_EQ(format_duration(milliseconds{3'723'004}), "1h2m3s4ms");
}

TEST(FormatDuration, LeavesOutZeroParts) {
  EXPECT_EQ(format_duration(milliseconds{3'630'000}), "1h30s");
}

TEST(FormatDuration, IsReadBackByParseDuration) {
  for (const milliseconds duration : {milliseconds{1}, milliseconds{1500}, milliseconds{90'000},
                                      milliseconds{86'400'000}, milliseconds::max()}) {
    EXPECT_EQ(parsed(format_duration(duration)), duration);
  }
}

}  // namespace
}  // namespace meshprobe
