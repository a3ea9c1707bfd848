// The config loader on arbitrary text: it may refuse (ConfigError), never
// crash, hang or throw anything else.
#include <cstddef>
#include <cstdint>
#include <string>

#include "config/config.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  try {
    meshprobe::parse_config(text, "fuzz.yaml");
  } catch (const meshprobe::ConfigError&) {
  }
  return 0;
}
