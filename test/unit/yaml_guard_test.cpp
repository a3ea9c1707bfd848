#include "config/yaml_guard.h"

#include <gtest/gtest.h>

#include "config/config.h"

namespace meshprobe {
namespace {

TEST(YamlGuard, FindsADocumentThatStartsWithAComma) {
  EXPECT_EQ(line_of_leading_flow_entry(",listen: 1\n"), 1);
  EXPECT_EQ(line_of_leading_flow_entry("# comment\n\n  ,x\n"), 3);
  EXPECT_EQ(line_of_leading_flow_entry("&anchor !tag ,x\n"), 1);
  EXPECT_EQ(line_of_leading_flow_entry("a: 1\n---\n,x\n"), 3);
}

TEST(YamlGuard, AcceptsCommasAnywhereElse) {
  EXPECT_EQ(line_of_leading_flow_entry("a: [1\n , 2]\n"), 0);
  EXPECT_EQ(line_of_leading_flow_entry("a: x ,y\nb: |\n  ,z\n"), 0);
  EXPECT_EQ(line_of_leading_flow_entry(""), 0);
}

// Regression: the fuzzer's input that made yaml-cpp allocate without bound.
TEST(YamlGuard, ConfigStartingWithCommasIsRefusedWithItsLine) {
  const std::string text = "# A local demo\n" + std::string(60, ',') + "listen: 127.0.0.1:9717\n";
  try {
    parse_config(text, "fuzz.yaml");
    FAIL() << "accepted";
  } catch (const ConfigError& e) {
    EXPECT_STREQ(e.what(), "fuzz.yaml:2: YAML syntax error: a document cannot start with ','");
  }
}

}  // namespace
}  // namespace meshprobe
