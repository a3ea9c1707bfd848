#include "config/yaml_guard.h"

namespace meshprobe {
namespace {

bool starts_with(std::string_view text, std::string_view prefix) {
  return text.substr(0, prefix.size()) == prefix;
}

std::string_view skip_blanks(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  return text;
}

// Skips node properties (&anchor, !tag) that may precede the first token.
std::string_view skip_properties(std::string_view text) {
  text = skip_blanks(text);
  while (!text.empty() && (text.front() == '&' || text.front() == '!')) {
    while (!text.empty() && text.front() != ' ' && text.front() != '\t') text.remove_prefix(1);
    text = skip_blanks(text);
  }
  return text;
}

}  // namespace

int line_of_leading_flow_entry(std::string_view yaml_text) {
  bool at_document_start = true;
  int line_number = 0;
  while (!yaml_text.empty()) {
    const std::size_t end = yaml_text.find('\n');
    std::string_view line = yaml_text.substr(0, end);
    yaml_text.remove_prefix(end == std::string_view::npos ? yaml_text.size() : end + 1);
    ++line_number;

    if (starts_with(line, "---") || starts_with(line, "...")) {
      at_document_start = true;
      line.remove_prefix(3);  // content may follow the marker on its line
    }
    if (!at_document_start) continue;
    if (!line.empty() && line.front() == '%') continue;  // a directive
    const std::string_view content = skip_properties(line);
    if (content.empty() || content.front() == '#' || content.front() == '\r') continue;
    if (content.front() == ',') return line_number;
    at_document_start = false;
  }
  return 0;
}

}  // namespace meshprobe
