// One gRPC call over HTTP/2, as bytes: the request's HEADERS and DATA frames
// on stream 1, and a reader of the server's frames that follows the call to
// its end. Pure functions over bytes (the fuzzer drives them); HPACK is
// nghttp2's, kept out of this header.
//
// Everything the server controls is bounded: frame size (the default
// SETTINGS_MAX_FRAME_SIZE the client never raises), header block size
// (CONTINUATION included), frames read, DATA kept, grpc-message kept. A
// server past a bound ends the call as malformed, with why.
// Private to probes/.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace meshprobe::detail {

// RFC 9113 section 4.2: a frame payload larger than this needs a
// SETTINGS_MAX_FRAME_SIZE the client never sent.
inline constexpr std::uint32_t kH2MaxFramePayload = 16 * 1024;
// One header block, HEADERS and its CONTINUATION frames together. gRPC
// answers are a few hundred bytes; Go's default limit is 1 MiB, far more
// than a probe needs to see.
inline constexpr std::size_t kMaxGrpcHeaderBlock = 16 * 1024;
// Frames read after the server's first SETTINGS before giving up.
inline constexpr int kMaxGrpcFrames = 256;
// DATA bytes of stream 1 kept (a health answer is 7 bytes).
inline constexpr std::size_t kMaxGrpcDataKept = 16 * 1024;
// Characters of grpc-message and content-type kept.
inline constexpr std::size_t kMaxGrpcText = 512;
// The client's initial stream and connection window (RFC 9113 section
// 6.9.2), which it never raises: DATA beyond it is a flow-control error.
inline constexpr std::size_t kH2InitialWindow = 65535;

struct GrpcRequest {
  std::string method;      // "/grpc.health.v1.Health/Check"
  std::string authority;   // host[:port] the server is asked for
  std::string user_agent;  // "meshprobe/0.1.0"
};

// HEADERS (END_HEADERS) and DATA carrying one empty gRPC message
// (END_STREAM), on stream 1.
std::string grpc_request_frames(const GrpcRequest& request);

enum class GrpcCallEnd {
  pending,    // the call has not ended yet
  status,     // the stream ended with the server's headers (and trailers)
  not_grpc,   // the response headers are not a gRPC answer
  reset,      // RST_STREAM on stream 1 before the call ended
  goaway,     // GOAWAY before the call ended
  malformed,  // a frame or header block broke HTTP/2 or a bound
};

struct GrpcReply {
  GrpcCallEnd end = GrpcCallEnd::pending;
  int http_status = 0;       // :status of the response headers; 0 before they came
  std::string content_type;  // of the response headers, bounded
  bool headers_received = false;
  bool trailers_only = false;  // the response headers ended the stream
  std::optional<int> grpc_status;
  std::string grpc_message;      // percent-decoded, non-printable bytes re-encoded, bounded
  std::string data;              // the first kMaxGrpcDataKept DATA bytes of stream 1
  std::size_t data_bytes = 0;    // all DATA bytes of stream 1
  std::uint32_t error_code = 0;  // of RST_STREAM or GOAWAY
  std::string problem;           // malformed: what broke; goaway: its debug data
  int frames = 0;                // frames read
};

// Follows the server's side of the call, frame by frame, from the first frame
// after the server's SETTINGS. Holds the HPACK decoder, whose table lives as
// long as the connection.
class GrpcReplyReader {
 public:
  GrpcReplyReader();
  ~GrpcReplyReader();
  GrpcReplyReader(const GrpcReplyReader&) = delete;
  GrpcReplyReader& operator=(const GrpcReplyReader&) = delete;

  // Takes in more of the server's bytes (any split). Returns what the client
  // owes the server in answer: SETTINGS and PING acknowledgements.
  std::string feed(std::string_view bytes);
  bool done() const { return reply_.end != GrpcCallEnd::pending; }
  const GrpcReply& reply() const { return reply_; }

 private:
  struct Hpack;
  struct Frame;

  bool take_frame(std::string& answer);
  void on_frame(const Frame& frame, std::string& answer);
  void on_headers(const Frame& frame);
  void on_continuation(const Frame& frame);
  void on_data(const Frame& frame);
  void on_header_block(bool end_stream);
  void malformed(std::string problem);

  std::unique_ptr<Hpack> hpack_;
  std::string pending_;       // bytes of a frame not complete yet
  std::string header_block_;  // of the HEADERS being continued
  bool continuing_ = false;   // a HEADERS without END_HEADERS came last
  bool block_ends_stream_ = false;
  std::size_t window_used_ = 0;  // DATA bytes against the connection window
  GrpcReply reply_;
};

// The whole reply read from `server_bytes` at once (the bytes after the
// server's first SETTINGS): the fuzzer's entry point.
GrpcReply read_grpc_reply(std::string_view server_bytes);

// The grpc.health.v1 serving status in the first gRPC message of `data`:
// "UNKNOWN", "SERVING", "NOT_SERVING", "SERVICE_UNKNOWN"; empty when there
// is no complete, uncompressed, well-formed message.
std::string health_serving_status(std::string_view data);

}  // namespace meshprobe::detail
