// Pieces of the config loaders' messages, positions, map walking and file
// names, shared by the agent config (config.cpp and the files of its parser)
// and the endpoint's web config (web_config.cpp).
#pragma once

#include <yaml-cpp/yaml.h>

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "common/text.h"

namespace meshprobe::yaml_text {

using meshprobe::in_quotes;
using meshprobe::joined;

// yaml-cpp counts lines from 0; nodes made up rather than parsed have none.
inline int line_of(const YAML::Node& node) {
  return node.Mark().is_null() ? 0 : node.Mark().line + 1;
}

// One `key: value` of a map.
struct Entry {
  std::string key;
  int line;  // of the key
  YAML::Node value;

  // Where to point at the value. yaml-cpp places an empty value on the next
  // token, often a line further down, so those point at their key.
  int value_line() const { return value.IsNull() ? line : line_of(value); }
};

// What a node is, for a message; each loader says it its own way, on
// purpose: the agent config quotes a scalar's text (describe, parser.h), the
// web config never shows a value (kind_of, web_config.cpp), since there a
// value may be a password hash.
using Describe = std::string (*)(const YAML::Node&);

// The entries of `map`, in order. yaml-cpp keeps only one of two equal keys
// when looking a key up, so duplicates are caught here, by walking them all.
// A key that is not text, or is written twice, is a ConfigError of `source`
// at the key's line; `where` ("in target") and `key_noun` ("key", "CA
// bundle name") make its message.
std::vector<Entry> entries(const YAML::Node& map, const std::string& source, std::string_view where,
                           std::string_view key_noun, Describe describe);

// A file named in the config file `source`, as the loader opens it: a
// relative `path` is taken from the directory of `source`, not from wherever
// the agent was started; normalised lexically ("a/./b" is "a/b").
// The whole text of a config file; a ConfigError of `path` (with errno)
// when it cannot be read, a directory included.
std::string read_config_file(const std::string& path);

std::string relative_to_source(const std::string& source, const std::filesystem::path& path);

}  // namespace meshprobe::yaml_text
