// What the config tests share: config documents written in the test source,
// a CA file made for each test, and the refusal a document gets.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <string_view>

#include "config/config.h"
#include "test/support/test_pki.h"

namespace meshprobe::config_test {

inline constexpr const char* kSource = "meshprobe.yaml";

// Test documents are written as raw strings that start on the line after
// R"( so that line numbers in the source read as the document's own.
inline std::string doc(std::string_view text) {
  if (text.starts_with('\n')) text.remove_prefix(1);
  return std::string(text);
}

inline std::string replaced(std::string text, std::string_view from, std::string_view to) {
  for (std::size_t at = text.find(from); at != std::string::npos;
       at = text.find(from, at + to.size())) {
    text.replace(at, from.size(), to);
  }
  return text;
}

inline std::string read_text(const std::filesystem::path& file) {
  std::ifstream in(file);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

class ConfigTest : public testing::Test {
 protected:
  ConfigTest()
      : ca_(test::TestCa::create("meshprobe config test CA")),
        ca_file_((dir_.path() / "root-cert.pem").string()) {
    test::write_file(ca_file_, ca_.cert_pem);
  }

  // `{ca_file}` in the text stands for a readable CA PEM file.
  std::string with_ca(std::string_view text) const {
    return replaced(doc(text), "{ca_file}", ca_file_);
  }

  Config parsed(std::string_view text) const { return parse_config(with_ca(text), kSource); }

  // The error message, or a test failure when the config loads.
  std::string refusal(std::string_view text) const {
    try {
      parse_config(with_ca(text), kSource);
    } catch (const ConfigError& error) {
      return error.what();
    }
    ADD_FAILURE() << "config was accepted:\n" << with_ca(text);
    return {};
  }

  static std::string at_line(int line) {
    return std::string(kSource) + ":" + std::to_string(line) + ": ";
  }

  // An example from config/examples, with the CA file it mounts in a cluster
  // replaced by one made here.
  Config example(const std::string& name) const {
    const std::filesystem::path shipped =
        std::filesystem::path(MESHPROBE_CONFIG_EXAMPLES_DIR) / name;
    const std::filesystem::path copy = dir_.path() / name;
    test::write_file(copy, replaced(read_text(shipped), "/etc/meshprobe/root-cert.pem", ca_file_));
    return load_config(copy.string());
  }

  test::TempDir dir_;
  test::TestCa ca_;
  std::string ca_file_;
};

}  // namespace meshprobe::config_test
