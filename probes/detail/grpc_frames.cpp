#include "probes/detail/grpc_frames.h"

#include <nghttp2/nghttp2.h>

#include <array>
#include <charconv>
#include <vector>

#include "probes/detail/h2_settings.h"

namespace meshprobe::detail {

using namespace h2;

namespace {

// HPACK's default dynamic table size (RFC 7541 section 4.2): the client
// announces no other.
constexpr std::size_t kHpackTableSize = 4096;
constexpr std::uint32_t kRequestStream = 1;
// The 5-byte prefix of a gRPC message: compressed flag, 4-byte length.
constexpr std::size_t kGrpcMessagePrefix = 5;

nghttp2_nv header_field(std::string_view name, std::string_view value) {
  // nghttp2 takes non-const pointers but only reads through them (NO_COPY
  // flags are not set, so the deflater copies what it indexes).
  return nghttp2_nv{const_cast<std::uint8_t*>(reinterpret_cast<const std::uint8_t*>(name.data())),
                    const_cast<std::uint8_t*>(reinterpret_cast<const std::uint8_t*>(value.data())),
                    name.size(), value.size(), NGHTTP2_NV_FLAG_NONE};
}

std::uint32_t read_u32(const unsigned char* b) {
  return (std::uint32_t{b[0]} << 24) | (std::uint32_t{b[1]} << 16) | (std::uint32_t{b[2]} << 8) |
         b[3];
}

const unsigned char* bytes_of(std::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// grpc-message is percent-encoded (gRPC's PROTOCOL-HTTP2): decoded, with
// what is not printable ASCII encoded again, so outputs stay plain text.
std::string decode_grpc_message(std::string_view raw) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (std::size_t i = 0; i < raw.size() && out.size() < kMaxGrpcText; ++i) {
    unsigned char c = static_cast<unsigned char>(raw[i]);
    if (c == '%' && i + 2 < raw.size() && hex_value(raw[i + 1]) >= 0 &&
        hex_value(raw[i + 2]) >= 0) {
      c = static_cast<unsigned char>(hex_value(raw[i + 1]) * 16 + hex_value(raw[i + 2]));
      i += 2;
    }
    if (c >= 0x20 && c < 0x7f) {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 0xf];
    }
  }
  return out;
}

// What a bounded text of the server's keeps: printable ASCII.
std::string printable_prefix(std::string_view raw) {
  std::string out;
  for (char c : raw.substr(0, kMaxGrpcText)) out += (c >= 0x20 && c < 0x7f) ? c : '?';
  return out;
}

// A grpc-status value: a decimal number (gRPC's PROTOCOL-HTTP2 has no sign
// and no spaces).
std::optional<int> parse_grpc_status(std::string_view value) {
  int code = 0;
  auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), code);
  if (ec != std::errc{} || end != value.data() + value.size() || value.empty() || code < 0) {
    return std::nullopt;
  }
  return code;
}

// One protobuf varint from `data` at `pos`; false when truncated or longer
// than 10 bytes.
bool read_varint(std::string_view data, std::size_t& pos, std::uint64_t& value) {
  value = 0;
  for (int shift = 0; shift < 70 && pos < data.size(); shift += 7) {
    const auto byte = static_cast<unsigned char>(data[pos++]);
    value |= std::uint64_t{byte & 0x7fu} << shift;
    if ((byte & 0x80) == 0) return true;
  }
  return false;
}

}  // namespace

std::string grpc_request_frames(const GrpcRequest& request) {
  const std::array<nghttp2_nv, 7> fields = {
      header_field(":method", "POST"),
      header_field(":scheme", "https"),
      header_field(":path", request.method),
      header_field(":authority", request.authority),
      header_field("content-type", "application/grpc"),
      header_field("te", "trailers"),
      header_field("user-agent", request.user_agent),
  };
  nghttp2_hd_deflater* deflater = nullptr;
  std::string out;
  if (nghttp2_hd_deflate_new(&deflater, kHpackTableSize) != 0) return out;
  std::vector<std::uint8_t> block(nghttp2_hd_deflate_bound(deflater, fields.data(), fields.size()));
  const auto size =
      nghttp2_hd_deflate_hd(deflater, block.data(), block.size(), fields.data(), fields.size());
  nghttp2_hd_deflate_del(deflater);
  // The block is a few dozen bytes over a method the config validated: it
  // fits one frame, and the deflater only fails without memory.
  if (size < 0 || static_cast<std::size_t>(size) > kH2MaxFramePayload) return out;

  append_h2_frame_header(out, static_cast<std::uint32_t>(size), kHeaders, kEndHeaders,
                         kRequestStream);
  out.append(reinterpret_cast<const char*>(block.data()), static_cast<std::size_t>(size));
  // One empty message: uncompressed, zero length. For Health/Check that is
  // HealthCheckRequest{service: ""}, the server's overall health.
  append_h2_frame_header(out, kGrpcMessagePrefix, kData, kEndStream, kRequestStream);
  out.append(kGrpcMessagePrefix, '\0');
  return out;
}

struct GrpcReplyReader::Hpack {
  nghttp2_hd_inflater* inflater = nullptr;
  Hpack() {
    if (nghttp2_hd_inflate_new(&inflater) != 0) inflater = nullptr;
  }
  ~Hpack() {
    if (inflater != nullptr) nghttp2_hd_inflate_del(inflater);
  }
  Hpack(const Hpack&) = delete;
  Hpack& operator=(const Hpack&) = delete;
};

struct GrpcReplyReader::Frame {
  H2FrameHeader header;
  std::string_view payload;
};

GrpcReplyReader::GrpcReplyReader() : hpack_(std::make_unique<Hpack>()) {
  if (hpack_->inflater == nullptr) malformed("no memory for the HPACK decoder");
}

GrpcReplyReader::~GrpcReplyReader() = default;

std::string GrpcReplyReader::feed(std::string_view bytes) {
  std::string answer;
  if (done()) return answer;
  pending_.append(bytes);
  while (!done() && take_frame(answer)) {
  }
  return answer;
}

void GrpcReplyReader::malformed(std::string problem) {
  if (done()) return;
  reply_.end = GrpcCallEnd::malformed;
  reply_.problem = std::move(problem);
}

// Handles the first frame of pending_ when it is complete; false when more
// bytes are needed (or the call ended).
bool GrpcReplyReader::take_frame(std::string& answer) {
  if (pending_.size() < kH2FrameHeaderSize) return false;
  Frame frame{parse_h2_frame_header(bytes_of(pending_)), {}};
  if (frame.header.length > kH2MaxFramePayload) {
    malformed("a frame of type " + std::to_string(frame.header.type) + " is " +
              std::to_string(frame.header.length) + " bytes, over the 16384 the client allows");
    return false;
  }
  const std::size_t frame_size = kH2FrameHeaderSize + frame.header.length;
  if (pending_.size() < frame_size) return false;
  if (++reply_.frames > kMaxGrpcFrames) {
    malformed("the server sent more than " + std::to_string(kMaxGrpcFrames) +
              " frames without ending the call");
    return false;
  }
  frame.payload = std::string_view(pending_).substr(kH2FrameHeaderSize, frame.header.length);
  on_frame(frame, answer);
  pending_.erase(0, frame_size);
  return true;
}

void GrpcReplyReader::on_frame(const Frame& frame, std::string& answer) {
  const H2FrameHeader& h = frame.header;
  if (continuing_ && h.type != kContinuation) {
    malformed("a header block was interrupted by a frame of type " + std::to_string(h.type) +
              " before its CONTINUATION");
    return;
  }
  switch (h.type) {
    case kHeaders: on_headers(frame); return;
    case kContinuation: on_continuation(frame); return;
    case kData: on_data(frame); return;
    case kSettings:
      if ((h.flags & kAck) == 0) answer += h2_settings_ack();
      return;
    case kPing:
      if ((h.flags & kAck) == 0 && h.length == 8) {
        append_h2_frame_header(answer, 8, kPing, kAck);
        answer.append(frame.payload);
      }
      return;
    case kRstStream:
      if (h.stream != kRequestStream) return;
      if (h.length != 4)
        return malformed("an RST_STREAM frame of " + std::to_string(h.length) +
                         " bytes instead of 4");
      reply_.error_code = read_u32(bytes_of(frame.payload));
      reply_.end = GrpcCallEnd::reset;
      return;
    case kGoAway:
      if (h.length < 8) return malformed("a GOAWAY frame shorter than 8 bytes");
      reply_.error_code = read_u32(bytes_of(frame.payload.substr(4)));
      reply_.problem = printable_prefix(frame.payload.substr(8));
      reply_.end = GrpcCallEnd::goaway;
      return;
    case kPushPromise: return malformed("a PUSH_PROMISE, though the client disabled server push");
    default: return;  // PRIORITY, WINDOW_UPDATE, unknown types: nothing to do
  }
}

void GrpcReplyReader::on_headers(const Frame& frame) {
  const H2FrameHeader& h = frame.header;
  if (h.stream != kRequestStream) {
    return malformed("a HEADERS frame on stream " + std::to_string(h.stream) +
                     ", which the client never opened");
  }
  std::string_view fragment = frame.payload;
  std::size_t padding = 0;
  if ((h.flags & kPadded) != 0) {
    if (fragment.empty()) return malformed("a padded HEADERS frame without its pad length");
    padding = static_cast<unsigned char>(fragment.front());
    fragment.remove_prefix(1);
  }
  if ((h.flags & kPriorityFlag) != 0) {
    if (fragment.size() < 5) return malformed("a HEADERS frame too short for its priority");
    fragment.remove_prefix(5);
  }
  if (padding > fragment.size()) return malformed("a HEADERS frame's padding exceeds it");
  fragment.remove_suffix(padding);
  header_block_.assign(fragment);
  block_ends_stream_ = (h.flags & kEndStream) != 0;
  continuing_ = (h.flags & kEndHeaders) == 0;
  if (header_block_.size() > kMaxGrpcHeaderBlock) {
    return malformed("a header block over " + std::to_string(kMaxGrpcHeaderBlock) + " bytes");
  }
  if (!continuing_) on_header_block(block_ends_stream_);
}

void GrpcReplyReader::on_continuation(const Frame& frame) {
  if (!continuing_ || frame.header.stream != kRequestStream) {
    return malformed("a CONTINUATION frame that continues no header block of stream 1");
  }
  header_block_.append(frame.payload);
  if (header_block_.size() > kMaxGrpcHeaderBlock) {
    return malformed("a header block continued past " + std::to_string(kMaxGrpcHeaderBlock) +
                     " bytes (CONTINUATION frames without END_HEADERS)");
  }
  if ((frame.header.flags & kEndHeaders) == 0) return;
  continuing_ = false;
  on_header_block(block_ends_stream_);
}

void GrpcReplyReader::on_data(const Frame& frame) {
  const H2FrameHeader& h = frame.header;
  window_used_ += h.length;
  if (window_used_ > kH2InitialWindow) {
    return malformed("DATA past the 65535-byte flow-control window the client never opened");
  }
  if (h.stream != kRequestStream) return;
  if (!reply_.headers_received) return malformed("DATA on stream 1 before its response headers");
  reply_.data_bytes += h.length;
  const std::size_t room = kMaxGrpcDataKept - std::min(kMaxGrpcDataKept, reply_.data.size());
  std::string_view payload = frame.payload;
  if ((h.flags & kPadded) != 0 && !payload.empty()) {
    const std::size_t padding = static_cast<unsigned char>(payload.front());
    payload.remove_prefix(1);
    if (padding > payload.size()) return malformed("a DATA frame's padding exceeds it");
    payload.remove_suffix(padding);
  }
  reply_.data.append(payload.substr(0, room));
  if ((h.flags & kEndStream) != 0) {
    // The stream ended without trailers: no grpc-status came.
    reply_.end = GrpcCallEnd::status;
  }
}

// Decodes the completed header block: the response headers first, then
// the trailers.
void GrpcReplyReader::on_header_block(bool end_stream) {
  const bool trailers = reply_.headers_received;
  if (trailers && !end_stream) return malformed("a second header block that does not end stream 1");
  const auto* in = bytes_of(header_block_);
  std::size_t left = header_block_.size();
  for (;;) {
    nghttp2_nv field;
    int flags = 0;
    const auto used = nghttp2_hd_inflate_hd2(hpack_->inflater, &field, &flags, in, left, 1);
    if (used < 0) {
      return malformed(std::string("a header block HPACK cannot decode (") +
                       nghttp2_strerror(static_cast<int>(used)) + ")");
    }
    in += used;
    left -= static_cast<std::size_t>(used);
    if ((flags & NGHTTP2_HD_INFLATE_EMIT) != 0) {
      const std::string_view name(reinterpret_cast<const char*>(field.name), field.namelen);
      const std::string_view value(reinterpret_cast<const char*>(field.value), field.valuelen);
      if (!trailers && name == ":status") {
        const auto status = parse_grpc_status(value);
        reply_.http_status = status && value.size() == 3 ? *status : -1;
      } else if (!trailers && name == "content-type") {
        reply_.content_type = printable_prefix(value);
      } else if (name == "grpc-status") {
        reply_.grpc_status = parse_grpc_status(value);
        if (!reply_.grpc_status) return malformed("a grpc-status that is not a number");
      } else if (name == "grpc-message") {
        reply_.grpc_message = decode_grpc_message(value);
      }
    }
    if ((flags & NGHTTP2_HD_INFLATE_FINAL) != 0) {
      nghttp2_hd_inflate_end_headers(hpack_->inflater);
      break;
    }
    if ((flags & NGHTTP2_HD_INFLATE_EMIT) == 0 && left == 0) break;
  }
  header_block_.clear();
  if (!trailers) {
    reply_.headers_received = true;
    if (reply_.http_status <= 0) return malformed("response headers without a valid :status");
    const bool grpc_type = std::string_view(reply_.content_type).starts_with("application/grpc");
    if (reply_.http_status != 200 || !grpc_type) {
      reply_.end = GrpcCallEnd::not_grpc;
      return;
    }
    reply_.trailers_only = end_stream;
  }
  if (end_stream) reply_.end = GrpcCallEnd::status;
}

GrpcReply read_grpc_reply(std::string_view server_bytes) {
  GrpcReplyReader reader;
  reader.feed(server_bytes);
  return reader.reply();
}

std::string health_serving_status(std::string_view data) {
  if (data.size() < kGrpcMessagePrefix || data[0] != '\0') return "";
  const std::uint32_t length = read_u32(bytes_of(data.substr(1)));
  if (length > data.size() - kGrpcMessagePrefix) return "";
  const std::string_view message = data.substr(kGrpcMessagePrefix, length);
  std::uint64_t status = 0;  // proto3: an absent field is UNKNOWN
  for (std::size_t pos = 0; pos < message.size();) {
    std::uint64_t tag = 0;
    std::uint64_t value = 0;
    if (!read_varint(message, pos, tag)) return "";
    switch (tag & 7) {
      case 0:  // varint
        if (!read_varint(message, pos, value)) return "";
        if (tag >> 3 == 1) status = value;
        break;
      case 1: pos += 8; break;  // 64-bit
      case 2:                   // length-delimited
        if (!read_varint(message, pos, value) || value > message.size() - pos) return "";
        pos += value;
        break;
      case 5: pos += 4; break;  // 32-bit
      default: return "";
    }
    if (pos > message.size()) return "";
  }
  static constexpr std::string_view kNames[] = {"UNKNOWN", "SERVING", "NOT_SERVING",
                                                "SERVICE_UNKNOWN"};
  return status < std::size(kNames) ? std::string(kNames[status]) : "";
}

}  // namespace meshprobe::detail
