#include "probes/detail/h2_settings.h"

namespace meshprobe::detail {

using namespace h2;

void append_h2_frame_header(std::string& out, std::uint32_t length, std::uint8_t type,
                            std::uint8_t flags, std::uint32_t stream) {
  out += static_cast<char>((length >> 16) & 0xff);
  out += static_cast<char>((length >> 8) & 0xff);
  out += static_cast<char>(length & 0xff);
  out += static_cast<char>(type);
  out += static_cast<char>(flags);
  out += static_cast<char>((stream >> 24) & 0x7f);
  out += static_cast<char>((stream >> 16) & 0xff);
  out += static_cast<char>((stream >> 8) & 0xff);
  out += static_cast<char>(stream & 0xff);
}

std::string h2_client_hello() {
  std::string out = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
  // SETTINGS_ENABLE_PUSH = 0: a PUSH_PROMISE is then a protocol error, not
  // a stream the probe would have to follow.
  append_h2_frame_header(out, 6, kSettings, 0);
  out += std::string_view("\x00\x02\x00\x00\x00\x00", 6);
  return out;
}

std::string h2_settings_ack() {
  std::string out;
  append_h2_frame_header(out, 0, kSettings, kAck);
  return out;
}

std::string h2_client_goodbye() {
  std::string out;
  append_h2_frame_header(out, 8, kGoAway, 0);
  out.append(8, '\0');  // last stream id 0, error code NO_ERROR
  return out;
}

H2FrameHeader parse_h2_frame_header(const unsigned char* b) {
  H2FrameHeader h;
  h.length = (std::uint32_t{b[0]} << 16) | (std::uint32_t{b[1]} << 8) | b[2];
  h.type = b[3];
  h.flags = b[4];
  h.stream = ((std::uint32_t{b[5]} & 0x7f) << 24) | (std::uint32_t{b[6]} << 16) |
             (std::uint32_t{b[7]} << 8) | b[8];
  return h;
}

std::string check_server_first_frame(const H2FrameHeader& h) {
  if (h.type != kSettings) {
    return "the server's first HTTP/2 frame is type " + std::to_string(h.type) + ", not SETTINGS";
  }
  if ((h.flags & kAck) != 0) return "the server's first SETTINGS frame is an ACK";
  if (h.stream != 0) return "the server's SETTINGS frame is on a stream other than 0";
  if (h.length % 6 != 0 || h.length > kMaxSettingsPayload) {
    return "the server's SETTINGS frame has an invalid length " + std::to_string(h.length);
  }
  return "";
}

}  // namespace meshprobe::detail
