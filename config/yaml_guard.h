// Inputs that yaml-cpp 0.7 (Debian 12) cannot be trusted with. A document
// whose first token is a flow entry (`,`, e.g. a config that starts with a
// stray comma) sends its scanner into a loop that allocates without bound:
// tens of gigabytes in two minutes. Found by fuzzing the config loader.
//
// A second case loops without bound too: YAML::LoadAll on a `,` that follows
// a document's content (`a\n#\n,`): each call to HandleNextDocument yields
// another empty document without consuming the `,`. load_one_document never
// asks for more than two.
#pragma once

#include <yaml-cpp/node/node.h>

#include <optional>
#include <string>
#include <string_view>

namespace meshprobe {

// The 1-based line of a document that starts with `,`, or 0 when none does.
int line_of_leading_flow_entry(std::string_view yaml_text);

struct YamlDocument {
  YAML::Node root;               // the first document
  int second_document_line = 0;  // 1-based line where a second one starts; 0: none
};

// The first document of `yaml_text`, and whether another follows. Throws
// YAML::Exception on a syntax error, as YAML::Load does.
YamlDocument load_one_document(const std::string& yaml_text);

struct YamlSyntaxError {
  int line = 0;  // 1-based; 0 when yaml-cpp gave no position
  std::string message;
};

struct YamlRead {
  YamlDocument document;
  std::optional<YamlSyntaxError> error;
};

// What the config loaders read a file's text with: the leading-`,` guard,
// then load_one_document, a syntax error as a value with its line.
YamlRead read_yaml_document(const std::string& yaml_text);

}  // namespace meshprobe
