// What an https probe does with the bytes a server sends back: find the end
// of the response head, then parse it.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "probes/detail/http_head.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view received(reinterpret_cast<const char*>(data), size);
  const std::size_t end = meshprobe::detail::response_head_end(received);
  if (end > received.size()) __builtin_trap();
  if (end != 0) {
    auto head = meshprobe::detail::parse_response_head(received.substr(0, end));
    if (head && (head->status < 100 || head->status > 999)) __builtin_trap();
  }
  return 0;
}
