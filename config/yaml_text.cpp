#include "config/yaml_text.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>

#include "config/config.h"

namespace meshprobe::yaml_text {

std::vector<Entry> entries(const YAML::Node& map, const std::string& source, std::string_view where,
                           std::string_view key_noun, Describe describe) {
  std::vector<Entry> result;
  std::map<std::string, int, std::less<>> first_line_of_key;
  for (const auto& pair : map) {
    const int line = line_of(pair.first);
    if (!pair.first.IsScalar()) {
      throw ConfigError(
          source, line,
          "keys " + std::string(where) + " must be plain text, got " + describe(pair.first));
    }
    const std::string& key = pair.first.Scalar();
    if (const auto [first, inserted] = first_line_of_key.emplace(key, line); !inserted) {
      throw ConfigError(source, line,
                        "duplicate " + std::string(key_noun) + " " + in_quotes(key) + " " +
                            std::string(where) + " (first at line " +
                            std::to_string(first->second) + ")");
    }
    result.push_back(Entry{key, line, pair.second});
  }
  return result;
}

std::string relative_to_source(const std::string& source, const std::filesystem::path& path) {
  const std::filesystem::path full =
      path.is_relative() ? std::filesystem::path(source).parent_path() / path : path;
  return full.lexically_normal().string();
}

std::string read_config_file(const std::string& path) {
  const std::unique_ptr<std::FILE, int (*)(std::FILE*)> file(std::fopen(path.c_str(), "rb"),
                                                             &std::fclose);
  const auto cannot_read = [&path] {
    const int error = errno;
    throw ConfigError(path, 0, std::string("cannot read: ") + std::strerror(error), error);
  };
  if (!file) cannot_read();
  std::string text;
  char buffer[64 * 1024];
  while (const std::size_t count = std::fread(buffer, 1, sizeof buffer, file.get())) {
    text.append(buffer, count);
  }
  if (std::ferror(file.get())) cannot_read();
  return text;
}

}  // namespace meshprobe::yaml_text
