#include "agent/log.h"

#include <boost/json.hpp>
#include <gtest/gtest.h>

namespace meshprobe {
namespace {

TEST(LogLine, LogfmtQuotesValuesWithSpacesOrQuotes) {
  EXPECT_EQ(format_log_line(LogFormat::logfmt, "T", LogLevel::warn, "probe_failing",
                            {{"target", "istiod-webhook"}, {"message", "said \"no\" twice"}}),
            "ts=T level=warn event=probe_failing target=istiod-webhook "
            "message=\"said \\\"no\\\" twice\"");
}

TEST(LogLine, NewlinesFromAServerCannotForgeALine) {
  const std::string line = format_log_line(LogFormat::logfmt, "T", LogLevel::info, "e",
                                           {{"message", "x\nts=T level=error event=forged"}});
  EXPECT_EQ(line.find('\n'), std::string::npos);
}

TEST(LogLine, JsonIsOneParsableObject) {
  const std::string line = format_log_line(LogFormat::json, "T", LogLevel::error, "config_rejected",
                                           {{"error", "a.yaml:3: unknown key \"x\"\n"}});
  const auto value = boost::json::parse(line);
  EXPECT_EQ(value.at("event").as_string(), "config_rejected");
  EXPECT_EQ(value.at("level").as_string(), "error");
  EXPECT_EQ(value.at("error").as_string(), "a.yaml:3: unknown key \"x\"\n");
}

}  // namespace
}  // namespace meshprobe
