// Target URLs as users (and configs) write them.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "probes/target.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto target =
      meshprobe::parse_target_url(std::string_view(reinterpret_cast<const char*>(data), size));
  if (target && (target->port == 0 || target->host.empty())) __builtin_trap();
  return 0;
}
