// Pieces of the config loaders' messages and positions, shared by the agent
// config (config.cpp) and the endpoint's web config (web_config.cpp).
#pragma once

#include <span>
#include <string>
#include <string_view>

#include <yaml-cpp/yaml.h>

namespace meshprobe::yaml_text {

inline std::string in_quotes(std::string_view text) {
  std::string out = "\"";
  out += text;
  out += '"';
  return out;
}

inline std::string joined(std::span<const std::string_view> words) {
  std::string out;
  for (std::string_view word : words) {
    if (!out.empty()) out += ", ";
    out += word;
  }
  return out;
}

// yaml-cpp counts lines from 0; nodes made up rather than parsed have none.
inline int line_of(const YAML::Node& node) {
  return node.Mark().is_null() ? 0 : node.Mark().line + 1;
}

}  // namespace meshprobe::yaml_text
