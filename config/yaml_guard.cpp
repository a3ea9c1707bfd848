#include "config/yaml_guard.h"

#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <sstream>

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

// Notes where each document's content starts and ignores the rest: enough
// to count documents without building them.
class DocumentStarts : public YAML::EventHandler {
 public:
  int line = 0;  // 1-based: the last document's first node, else its start

  void OnDocumentStart(const YAML::Mark& mark) override {
    line = mark.line + 1;
    awaiting_content_ = true;
  }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark& mark, YAML::anchor_t) override { content_at(mark); }
  void OnAlias(const YAML::Mark& mark, YAML::anchor_t) override { content_at(mark); }
  void OnScalar(const YAML::Mark& mark, const std::string&, YAML::anchor_t,
                const std::string&) override {
    content_at(mark);
  }
  void OnSequenceStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t,
                       YAML::EmitterStyle::value) override {
    content_at(mark);
  }
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t,
                  YAML::EmitterStyle::value) override {
    content_at(mark);
  }
  void OnMapEnd() override {}

 private:
  void content_at(const YAML::Mark& mark) {
    if (awaiting_content_) line = mark.line + 1;
    awaiting_content_ = false;
  }
  bool awaiting_content_ = false;
};

}  // namespace

YamlDocument load_one_document(const std::string& yaml_text) {
  YamlDocument document{YAML::Load(yaml_text), 0};
  std::istringstream in(yaml_text);
  YAML::Parser parser(in);
  DocumentStarts starts;
  if (parser.HandleNextDocument(starts) && parser.HandleNextDocument(starts)) {
    document.second_document_line = std::max(starts.line, 1);
  }
  return document;
}

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

YamlRead read_yaml_document(const std::string& yaml_text) {
  YamlRead read;
  if (const int line = line_of_leading_flow_entry(yaml_text)) {
    read.error = YamlSyntaxError{line, "YAML syntax error: a document cannot start with ','"};
    return read;
  }
  try {
    read.document = load_one_document(yaml_text);
  } catch (const YAML::Exception& error) {
    read.error = YamlSyntaxError{error.mark.is_null() ? 0 : error.mark.line + 1,
                                 "YAML syntax error: " + error.msg};
  }
  return read;
}

}  // namespace meshprobe
