#include "config/yaml_guard.h"

#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

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

// Regression: a ',' after a document's content made YAML::LoadAll yield
// empty documents forever (found by fuzz_config; seed
// test/fuzz/corpus/config/regression-oom-comma-after-comment).
TEST(YamlGuard, ACommaAfterContentEndsAsASecondDocument) {
  for (const std::string text : {"a\n#\n,", "a #c\n,", "[a]\n#\n,"}) {
    const YamlDocument document = load_one_document(text);
    EXPECT_NE(document.second_document_line, 0) << text;
  }
}

TEST(YamlGuard, ConfigWithACommaAfterACommentIsRefusedWithALine) {
  try {
    parse_config("targets: [{url: \"tcp://a.example:1\"}]\n#\n,\n", "fuzz.yaml");
    FAIL() << "accepted";
  } catch (const ConfigError& e) {
    EXPECT_GT(e.line(), 0) << e.what();
  }
}

TEST(YamlGuard, OneDocumentHasNoSecond) {
  const YamlDocument document = load_one_document("a: 1\nb: [2, 3]\n");
  EXPECT_EQ(document.second_document_line, 0);
  EXPECT_EQ(document.root["a"].as<int>(), 1);
}

TEST(YamlGuard, SecondDocumentIsFoundAtItsContent) {
  EXPECT_EQ(load_one_document("a: 1\n---\nb: 2\n").second_document_line, 3);
}

}  // namespace
}  // namespace meshprobe
