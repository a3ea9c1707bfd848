// Small helpers shared by the Kubernetes-mode tests: fixture files.
#pragma once

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace meshprobe::test {

// test/unit/kube/fixtures/NAME: API responses in the shapes of the API reference.
inline std::string fixture(const std::string& name) {
  const std::filesystem::path path = std::filesystem::path(MESHPROBE_KUBE_FIXTURES_DIR) / name;
  std::ifstream in(path);
  std::ostringstream text;
  text << in.rdbuf();
  if (!in) throw std::runtime_error("cannot read fixture " + path.string());
  return text.str();
}

inline std::string source_file(const std::string& relative) {
  std::ifstream in(std::filesystem::path(MESHPROBE_SOURCE_DIR) / relative);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace meshprobe::test
