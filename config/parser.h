// The agent config's parser, private to the config room: config.cpp reads
// the top level (settings, defaults, the `kubernetes` section), bundles.cpp
// the CA bundles, targets.cpp the targets; parser.cpp holds what they all
// read values with. Every failure throws ConfigError at the line at fault.
#pragma once

#include <yaml-cpp/yaml.h>

#include <chrono>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "config/config.h"
#include "config/names.h"
#include "config/yaml_text.h"

namespace meshprobe::config_parser {

using std::chrono::milliseconds;
using yaml_text::Entry;
using yaml_text::in_quotes;
using yaml_text::joined;
using yaml_text::line_of;

struct IntRange {
  int min;
  int max;
};
// `expiry_warning_days`, in `defaults` and in a target.
constexpr IntRange kExpiryDaysRange{0, 3650};

// What a node is, for messages: a scalar is shown, quoted, so the message
// names the value that was refused. The web config says it its own way on
// purpose (kind_of in web_config.cpp): it never shows a value, since there a
// value may be a password hash.
std::string describe(const YAML::Node& node);

// A map whose keys were checked against the known ones.
class Section {
 public:
  explicit Section(std::vector<Entry> entries) : entries_(std::move(entries)) {}

  const Entry* find(std::string_view key) const {
    for (const Entry& entry : entries_) {
      if (entry.key == key) return &entry;
    }
    return nullptr;
  }

 private:
  std::vector<Entry> entries_;
};

class Parser {
 public:
  explicit Parser(std::string source) : source_(std::move(source)) {}

  Config parse(const std::string& yaml_text) const;

 private:
  [[noreturn]] void fail(int line, std::string message, int system_error = 0) const {
    throw ConfigError(source_, line, std::move(message), system_error);
  }

  // Maps and values (parser.cpp).
  // The entries of `map`, in order; a key written twice is refused
  // (yaml_text::entries).
  std::vector<Entry> entries(const YAML::Node& map, std::string_view where,
                             std::string_view key_noun) const;
  // A map whose keys are all in `known`.
  Section section(const YAML::Node& map, std::string_view where,
                  std::span<const std::string_view> known) const;
  const YAML::Node& map_value(const Entry& entry) const;

  const std::string& scalar(const Entry& entry, std::string_view expected) const;
  std::string string_value(const Entry& entry) const;
  std::string name_value(const Entry& entry, const NameRule& rule) const;
  void check_name(std::string_view name, int line, const NameRule& rule) const;
  std::string kubernetes_name(const Entry& entry, std::size_t max_length, bool dots,
                              std::string_view what) const;
  // A non-empty file name, relative ones taken from the config's directory.
  std::string path_value(const Entry& entry) const;
  milliseconds duration_value(const Entry& entry) const;
  // A duration where 0s has a meaning of its own (full_verify_interval: every
  // probe verifies in full).
  milliseconds duration_or_zero_value(const Entry& entry) const;
  int int_value(const Entry& entry, IntRange range) const;
  bool bool_value(const Entry& entry) const;

  // The top level (config.cpp).
  void read_settings(const Section& top, Config& config) const;
  std::string node_name(const Section& top) const;
  void read_defaults(const Entry& entry, Config& config) const;
  void read_kubernetes(const Entry& entry, Config& config) const;

  // CA bundles (bundles.cpp).
  CaBundleSource read_bundle(const Entry& entry) const;
  void read_kubernetes_bundle(const Section& keys, CaBundleSource& source) const;

  // Targets (targets.cpp).
  void read_targets(const Section& top, int top_line, Config& config) const;
  TargetConfig read_target(const YAML::Node& item, const Config& config) const;
  TargetConfig read_admission_target(const Section& keys, int line) const;
  void read_target_grpc_keys(const Section& keys, Target& target) const;
  void read_target_kubernetes_keys(const Section& keys, const Target& target,
                                   TargetConfig& result) const;
  std::map<std::string, std::string> read_labels(const Entry& entry) const;
  DiagnosisSet read_expect(const Entry& entry) const;

  std::string source_;
};

}  // namespace meshprobe::config_parser
