// The character rules of the names a config gives things, private to the
// agent config's parser (parser.h). Values that become label values or
// identifiers keep to a small character set, which keeps them safe in
// logfmt, URLs and PromQL selectors without quoting.
#pragma once

#include <cstddef>
#include <string_view>

namespace meshprobe::config_parser {

struct NameRule {
  std::string_view what;  // "target name", for the message
  std::size_t max_length;
  bool (*first_char)(char);
  bool (*other_char)(char);
  std::string_view described;  // the rule, for the message
};

extern const NameRule kVantageRule;
extern const NameRule kNodeNameRule;
extern const NameRule kEnvVarRule;
extern const NameRule kBundleNameRule;
extern const NameRule kTargetNameRule;
extern const NameRule kServerNameRule;
extern const NameRule kLabelNameRule;

// Whether `name` is 1 to rule.max_length characters of the rule's sets.
bool follows(const NameRule& rule, std::string_view name);

// Kubernetes object names (RFC 1123): lowercase letters, digits and '-',
// starting and ending with a letter or digit; a subdomain (`dots`) may have
// dots.
bool is_rfc1123(std::string_view name, std::size_t max_length, bool dots);

// A ConfigMap data key: 1 to 253 letters, digits, '-', '_' and '.'.
bool is_config_map_key(std::string_view key);

}  // namespace meshprobe::config_parser
