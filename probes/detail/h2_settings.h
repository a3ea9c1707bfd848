// The smallest HTTP/2 exchange that proves a port speaks gRPC's transport:
// the client preface, and the server's SETTINGS frame that must answer it
// (RFC 9113 section 3.4).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace meshprobe::detail {

inline constexpr std::size_t kH2FrameHeaderSize = 9;
// A SETTINGS payload larger than this is hostile, not a real server's.
inline constexpr std::uint32_t kMaxSettingsPayload = 16 * 1024;

struct H2FrameHeader {
  std::uint32_t length = 0;
  std::uint8_t type = 0;
  std::uint8_t flags = 0;
  std::uint32_t stream = 0;
};

// Client preface followed by an empty SETTINGS frame.
std::string h2_client_hello();

// SETTINGS ACK and GOAWAY(NO_ERROR): a polite goodbye, so the server logs no
// protocol error for a probe.
std::string h2_client_goodbye();

H2FrameHeader parse_h2_frame_header(const unsigned char* bytes);

// Empty when `header` is the SETTINGS frame a server must send first;
// otherwise why not.
std::string check_server_first_frame(const H2FrameHeader& header);

}  // namespace meshprobe::detail
