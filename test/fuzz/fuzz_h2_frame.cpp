// The gRPC probe's check of the server's first HTTP/2 frame header.
#include <cstddef>
#include <cstdint>

#include "probes/detail/h2_settings.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < meshprobe::detail::kH2FrameHeaderSize) return 0;
  const auto header = meshprobe::detail::parse_h2_frame_header(data);
  const bool accepted = meshprobe::detail::check_server_first_frame(header).empty();
  // Only an empty-stream, non-ACK SETTINGS frame of a sane length passes.
  if (accepted &&
      (header.type != 4 || header.stream != 0 || (header.flags & 1) != 0 ||
       header.length % 6 != 0 || header.length > meshprobe::detail::kMaxSettingsPayload)) {
    __builtin_trap();
  }
  return 0;
}
