// Small pieces of message text, written once for every room.
#pragma once

#include <span>
#include <string>
#include <string_view>

namespace meshprobe {

// "text" with its double quotes, for naming a thing in a message.
inline std::string in_quotes(std::string_view text) {
  std::string out = "\"";
  out += text;
  out += '"';
  return out;
}

// Whether `needle` occurs in `text` (C++23's string_view::contains).
inline bool has(std::string_view text, std::string_view needle) {
  return text.find(needle) != std::string_view::npos;
}

// A server's text, bounded, for a message: control characters must not
// reach logs or terminals.
inline std::string bounded_text(std::string_view text, std::size_t limit = 300) {
  std::string out;
  for (char c : text.substr(0, limit)) {
    out += static_cast<unsigned char>(c) < 0x20 ? ' ' : c;
  }
  if (text.size() > limit) out += "...";
  return out;
}

// "a, b, c".
inline std::string joined(std::span<const std::string_view> words) {
  std::string out;
  for (std::string_view word : words) {
    if (!out.empty()) out += ", ";
    out += word;
  }
  return out;
}

}  // namespace meshprobe
