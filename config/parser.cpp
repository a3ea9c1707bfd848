// What every part of the agent config's parser reads values with: maps whose
// keys are checked, and scalars as strings, names, paths, durations, whole
// numbers and booleans.
#include "config/parser.h"

#include <algorithm>
#include <charconv>

#include "config/duration.h"

namespace meshprobe::config_parser {

std::string describe(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Map: return "a map";
    case YAML::NodeType::Sequence: return "a list";
    case YAML::NodeType::Scalar: return in_quotes(node.Scalar());
    default: return "nothing";
  }
}

std::vector<Entry> Parser::entries(const YAML::Node& map, std::string_view where,
                                   std::string_view key_noun) const {
  return yaml_text::entries(map, source_, where, key_noun, describe);
}

Section Parser::section(const YAML::Node& map, std::string_view where,
                        std::span<const std::string_view> known) const {
  std::vector<Entry> found = entries(map, where, "key");
  for (const Entry& entry : found) {
    if (std::ranges::find(known, entry.key) == known.end()) {
      fail(entry.line, "unknown key " + in_quotes(entry.key) + " " + std::string(where) +
                           "; known keys: " + joined(known));
    }
  }
  return Section(std::move(found));
}

const YAML::Node& Parser::map_value(const Entry& entry) const {
  if (!entry.value.IsMap()) {
    fail(entry.value_line(), in_quotes(entry.key) + " must be a map, got " + describe(entry.value));
  }
  return entry.value;
}

const std::string& Parser::scalar(const Entry& entry, std::string_view expected) const {
  if (!entry.value.IsScalar()) {
    fail(entry.value_line(), in_quotes(entry.key) + " must be " + std::string(expected) + ", got " +
                                 describe(entry.value));
  }
  return entry.value.Scalar();
}

std::string Parser::string_value(const Entry& entry) const { return scalar(entry, "a string"); }

void Parser::check_name(std::string_view name, int line, const NameRule& rule) const {
  if (!follows(rule, name)) {
    fail(line, "invalid " + std::string(rule.what) + " " + in_quotes(name) + ": use 1 to " +
                   std::to_string(rule.max_length) + " characters: " + std::string(rule.described));
  }
}

std::string Parser::name_value(const Entry& entry, const NameRule& rule) const {
  std::string name = string_value(entry);
  check_name(name, entry.value_line(), rule);
  return name;
}

std::string Parser::kubernetes_name(const Entry& entry, std::size_t max_length, bool dots,
                                    std::string_view what) const {
  std::string name = string_value(entry);
  if (!is_rfc1123(name, max_length, dots)) {
    fail(entry.value_line(), "invalid " + std::string(what) + " " + in_quotes(name) +
                                 ": use 1 to " + std::to_string(max_length) +
                                 " lowercase letters, digits, '-'" + (dots ? ", '.'" : "") +
                                 ", starting and ending with a letter or digit");
  }
  return name;
}

std::string Parser::path_value(const Entry& entry) const {
  const std::string path = string_value(entry);
  if (path.empty()) fail(entry.value_line(), in_quotes(entry.key) + " must not be empty");
  return yaml_text::relative_to_source(source_, path);
}

milliseconds Parser::duration_or_zero_value(const Entry& entry) const {
  const auto duration = parse_duration(scalar(entry, "a duration like 10s"));
  if (!duration) fail(entry.value_line(), entry.key + ": " + duration.error().message);
  return *duration;
}

milliseconds Parser::duration_value(const Entry& entry) const {
  const milliseconds duration = duration_or_zero_value(entry);
  if (duration.count() <= 0) {
    fail(entry.value_line(), in_quotes(entry.key) + " must be greater than 0");
  }
  return duration;
}

int Parser::int_value(const Entry& entry, IntRange range) const {
  const std::string expected =
      "a whole number from " + std::to_string(range.min) + " to " + std::to_string(range.max);
  const std::string& text = scalar(entry, expected);
  int value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || error != std::errc{} || end != text.data() + text.size() ||
      value < range.min || value > range.max) {
    fail(entry.value_line(),
         in_quotes(entry.key) + " must be " + expected + ", got " + in_quotes(text));
  }
  return value;
}

bool Parser::bool_value(const Entry& entry) const {
  scalar(entry, "true or false");
  bool value = false;
  if (!YAML::convert<bool>::decode(entry.value, value)) {
    fail(entry.value_line(),
         in_quotes(entry.key) + " must be true or false, got " + describe(entry.value));
  }
  return value;
}

}  // namespace meshprobe::config_parser
