#include "config/names.h"

#include <algorithm>

namespace meshprobe::config_parser {
namespace {

bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_identifier_start(char c) { return is_alpha(c) || c == '_'; }
bool is_identifier_char(char c) { return is_identifier_start(c) || is_digit(c); }
bool is_label_value_char(char c) { return is_identifier_char(c) || c == '.' || c == '-'; }
bool is_target_name_char(char c) { return is_label_value_char(c) || c == ':' || c == '/'; }
bool is_host_char(char c) { return is_label_value_char(c) || c == ':'; }

}  // namespace

const NameRule kVantageRule{"vantage", 63, is_label_value_char, is_label_value_char,
                            "letters, digits, _ . -"};
const NameRule kNodeNameRule{"node name", 253, is_label_value_char, is_label_value_char,
                             "letters, digits, _ . -"};
const NameRule kEnvVarRule{"environment variable name", 255, is_identifier_start,
                           is_identifier_char, "letters, digits and _, not starting with a digit"};
const NameRule kBundleNameRule{"CA bundle name", 63, is_label_value_char, is_label_value_char,
                               "letters, digits, _ . -"};
const NameRule kTargetNameRule{"target name", 128, is_target_name_char, is_target_name_char,
                               "letters, digits, _ . : / -"};
const NameRule kServerNameRule{"server name", 253, is_host_char, is_host_char,
                               "letters, digits, _ . : -"};
const NameRule kLabelNameRule{"label name", 63, is_identifier_start, is_identifier_char,
                              "letters, digits and _, not starting with a digit"};

bool follows(const NameRule& rule, std::string_view name) {
  if (name.empty() || name.size() > rule.max_length) return false;
  if (!rule.first_char(name.front())) return false;
  for (char c : name.substr(1)) {
    if (!rule.other_char(c)) return false;
  }
  return true;
}

bool is_rfc1123(std::string_view name, std::size_t max_length, bool dots) {
  if (name.empty() || name.size() > max_length) return false;
  const auto alnum = [](char c) { return (c >= 'a' && c <= 'z') || is_digit(c); };
  if (!alnum(name.front()) || !alnum(name.back())) return false;
  return std::all_of(name.begin(), name.end(),
                     [&](char c) { return alnum(c) || c == '-' || (dots && c == '.'); });
}

bool is_config_map_key(std::string_view key) {
  if (key.empty() || key.size() > 253) return false;
  return std::all_of(key.begin(), key.end(), [](char c) {
    return is_alpha(c) || is_digit(c) || c == '-' || c == '_' || c == '.';
  });
}

}  // namespace meshprobe::config_parser
