// The start and the end of the HTTP/2 connection a gRPC probe opens: the
// client preface, the server's SETTINGS frame that must answer it (RFC 9113
// section 3.4), and the goodbye; with the frame layout the call's frames
// (grpc_frames.h) share.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace meshprobe::detail {

inline constexpr std::size_t kH2FrameHeaderSize = 9;
// A SETTINGS payload larger than this is hostile, not a real server's.
inline constexpr std::uint32_t kMaxSettingsPayload = 16 * 1024;

// Frame types and flags (RFC 9113 section 6).
namespace h2 {
inline constexpr std::uint8_t kData = 0x0;
inline constexpr std::uint8_t kHeaders = 0x1;
inline constexpr std::uint8_t kPriority = 0x2;
inline constexpr std::uint8_t kRstStream = 0x3;
inline constexpr std::uint8_t kSettings = 0x4;
inline constexpr std::uint8_t kPushPromise = 0x5;
inline constexpr std::uint8_t kPing = 0x6;
inline constexpr std::uint8_t kGoAway = 0x7;
inline constexpr std::uint8_t kWindowUpdate = 0x8;
inline constexpr std::uint8_t kContinuation = 0x9;

inline constexpr std::uint8_t kAck = 0x1;  // SETTINGS, PING
inline constexpr std::uint8_t kEndStream = 0x1;
inline constexpr std::uint8_t kEndHeaders = 0x4;
inline constexpr std::uint8_t kPadded = 0x8;
inline constexpr std::uint8_t kPriorityFlag = 0x20;
}  // namespace h2

struct H2FrameHeader {
  std::uint32_t length = 0;
  std::uint8_t type = 0;
  std::uint8_t flags = 0;
  std::uint32_t stream = 0;
};

// Appends a frame header for a payload of `length` bytes.
void append_h2_frame_header(std::string& out, std::uint32_t length, std::uint8_t type,
                            std::uint8_t flags, std::uint32_t stream = 0);

// Client preface followed by a SETTINGS frame that disables server push.
std::string h2_client_hello();

// SETTINGS ACK: the client takes the server's SETTINGS.
std::string h2_settings_ack();

// GOAWAY(NO_ERROR): a polite goodbye, so the server logs no protocol error
// for a probe.
std::string h2_client_goodbye();

H2FrameHeader parse_h2_frame_header(const unsigned char* bytes);

// Empty when `header` is the SETTINGS frame a server must send first;
// otherwise why not.
std::string check_server_first_frame(const H2FrameHeader& header);

}  // namespace meshprobe::detail
