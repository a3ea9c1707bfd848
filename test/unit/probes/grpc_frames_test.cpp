// The grpc probe's frames as bytes: the request it sends, and what it reads
// of a reply however the reads cut it.

#include "probes/detail/grpc_frames.h"

#include <gtest/gtest.h>

#include <nghttp2/nghttp2.h>

#include <map>
#include <string>

#include "probes/detail/grpc_verdict.h"
#include "probes/detail/h2_settings.h"

namespace meshprobe::detail {
namespace {

std::string frame(std::uint8_t type, std::uint8_t flags, std::uint32_t stream,
                  std::string_view payload) {
  std::string out;
  append_h2_frame_header(out, static_cast<std::uint32_t>(payload.size()), type, flags, stream);
  out.append(payload);
  return out;
}

// An HPACK literal without indexing, new name, no Huffman (RFC 7541 6.2.2).
std::string literal(std::string_view name, std::string_view value) {
  std::string out(1, '\0');
  out += static_cast<char>(name.size());
  out.append(name);
  out += static_cast<char>(value.size());
  out.append(value);
  return out;
}

const std::string kStatus200 = "\x88";  // static table index 8
const std::string kGrpcType = literal("content-type", "application/grpc");

std::map<std::string, std::string> inflate(std::string_view block) {
  nghttp2_hd_inflater* inflater = nullptr;
  EXPECT_EQ(nghttp2_hd_inflate_new(&inflater), 0);
  std::map<std::string, std::string> fields;
  const auto* in = reinterpret_cast<const std::uint8_t*>(block.data());
  std::size_t left = block.size();
  for (;;) {
    nghttp2_nv nv;
    int flags = 0;
    const auto used = nghttp2_hd_inflate_hd2(inflater, &nv, &flags, in, left, 1);
    if (used < 0) break;
    in += used;
    left -= static_cast<std::size_t>(used);
    if (flags & NGHTTP2_HD_INFLATE_EMIT) {
      fields[std::string(reinterpret_cast<char*>(nv.name), nv.namelen)] =
          std::string(reinterpret_cast<char*>(nv.value), nv.valuelen);
    }
    if (flags & NGHTTP2_HD_INFLATE_FINAL) break;
    if ((flags & NGHTTP2_HD_INFLATE_EMIT) == 0 && left == 0) break;
  }
  nghttp2_hd_inflate_del(inflater);
  return fields;
}

TEST(GrpcFrames, RequestIsHeadersThenOneEmptyMessageEndingStreamOne) {
  const std::string bytes = grpc_request_frames({.method = "/grpc.health.v1.Health/Check",
                                                 .authority = "istiod.istio-system.svc:15012",
                                                 .user_agent = "meshprobe/0.1.0"});
  const auto* b = reinterpret_cast<const unsigned char*>(bytes.data());
  const H2FrameHeader headers = parse_h2_frame_header(b);
  EXPECT_EQ(headers.type, h2::kHeaders);
  EXPECT_EQ(headers.flags, h2::kEndHeaders);
  EXPECT_EQ(headers.stream, 1u);
  const auto fields = inflate(std::string_view(bytes).substr(kH2FrameHeaderSize, headers.length));
  EXPECT_EQ(fields.at(":method"), "POST");
  EXPECT_EQ(fields.at(":scheme"), "https");
  EXPECT_EQ(fields.at(":path"), "/grpc.health.v1.Health/Check");
  EXPECT_EQ(fields.at(":authority"), "istiod.istio-system.svc:15012");
  EXPECT_EQ(fields.at("content-type"), "application/grpc");
  EXPECT_EQ(fields.at("te"), "trailers");
  EXPECT_EQ(fields.at("user-agent"), "meshprobe/0.1.0");

  const std::size_t data_at = kH2FrameHeaderSize + headers.length;
  const H2FrameHeader data = parse_h2_frame_header(b + data_at);
  EXPECT_EQ(data.type, h2::kData);
  EXPECT_EQ(data.flags, h2::kEndStream);
  EXPECT_EQ(data.stream, 1u);
  EXPECT_EQ(bytes.substr(data_at + kH2FrameHeaderSize), std::string(5, '\0'));
}

TEST(GrpcFrames, ReplyReadsTheSameWhereverTheReadsCutIt) {
  const std::string bytes =
      frame(h2::kSettings, 0, 0, "") +
      frame(h2::kHeaders, h2::kEndHeaders, 1, kStatus200 + kGrpcType) +
      frame(h2::kData, 0, 1, std::string("\0\0\0\0\x02\x08\x01", 7)) +
      frame(h2::kHeaders, h2::kEndHeaders | h2::kEndStream, 1, literal("grpc-status", "0"));
  const GrpcReply whole = read_grpc_reply(bytes);
  ASSERT_EQ(whole.end, GrpcCallEnd::status);
  EXPECT_EQ(whole.grpc_status, 0);
  EXPECT_EQ(health_serving_status(whole.data), "SERVING");
  for (std::size_t cut = 0; cut <= bytes.size(); ++cut) {
    GrpcReplyReader reader;
    std::string owed = reader.feed(std::string_view(bytes).substr(0, cut));
    owed += reader.feed(std::string_view(bytes).substr(cut));
    EXPECT_EQ(reader.reply().end, GrpcCallEnd::status) << "cut at " << cut;
    EXPECT_EQ(reader.reply().data, whole.data) << "cut at " << cut;
    EXPECT_EQ(owed, h2_settings_ack()) << "the server's SETTINGS is acknowledged once";
  }
}

TEST(GrpcFrames, GrpcMessageIsPercentDecodedAndKeptPrintable) {
  const GrpcReply reply =
      read_grpc_reply(frame(h2::kHeaders, h2::kEndHeaders | h2::kEndStream, 1,
                            kStatus200 + kGrpcType + literal("grpc-status", "16") +
                                literal("grpc-message", "bad%20token%0A%E2%9C%93 100%")));
  EXPECT_EQ(reply.end, GrpcCallEnd::status);
  EXPECT_TRUE(reply.trailers_only);
  EXPECT_EQ(reply.grpc_status, 16);
  EXPECT_EQ(reply.grpc_message, "bad token%0A%E2%9C%93 100%");
}

TEST(GrpcFrames, PingIsAnsweredWithItsPayload) {
  GrpcReplyReader reader;
  const std::string owed = reader.feed(frame(h2::kPing, 0, 0, "12345678"));
  EXPECT_EQ(owed, frame(h2::kPing, h2::kAck, 0, "12345678"));
  EXPECT_FALSE(reader.done());
}

TEST(GrpcFrames, NonNumericGrpcStatusIsMalformed) {
  const GrpcReply reply =
      read_grpc_reply(frame(h2::kHeaders, h2::kEndHeaders | h2::kEndStream, 1,
                            kStatus200 + kGrpcType + literal("grpc-status", "twelve")));
  EXPECT_EQ(reply.end, GrpcCallEnd::malformed);
}

TEST(GrpcFrames, HealthServingStatusReadsTheFirstMessageOnly) {
  EXPECT_EQ(health_serving_status(std::string("\0\0\0\0\x02\x08\x02", 7)), "NOT_SERVING");
  EXPECT_EQ(health_serving_status(std::string("\0\0\0\0\0", 5)), "UNKNOWN");
  EXPECT_EQ(health_serving_status(std::string("\0\0\0\0\x02\x08\x03", 7)), "SERVICE_UNKNOWN");
  EXPECT_EQ(health_serving_status(std::string("\x01\0\0\0\x02\x08\x01", 7)), "")
      << "compressed: not ours to read";
  EXPECT_EQ(health_serving_status(std::string("\0\0\0\0\x05\x08\x01", 7)), "") << "truncated";
  EXPECT_EQ(health_serving_status(std::string("\0\0\0\0\x02\x08\x09", 7)), "") << "no such value";
}

TEST(GrpcVerdict, AnyGrpcStatusIsOkButExpectServingWantsServing) {
  const GrpcReply unimplemented =
      read_grpc_reply(frame(h2::kHeaders, h2::kEndHeaders | h2::kEndStream, 1,
                            kStatus200 + kGrpcType + literal("grpc-status", "12")));
  const GrpcVerdict plain = judge_grpc_reply(unimplemented, {.method = kDefaultGrpcMethod});
  EXPECT_EQ(plain.diagnosis, Diagnosis::ok);
  EXPECT_EQ(plain.info.status, 12);
  const GrpcVerdict strict =
      judge_grpc_reply(unimplemented, {.method = kDefaultGrpcMethod, .expect_serving = true});
  EXPECT_EQ(strict.diagnosis, Diagnosis::grpc_not_serving);
  EXPECT_EQ(strict.message, "/grpc.health.v1.Health/Check answered 12 UNIMPLEMENTED, not SERVING");
}

TEST(GrpcVerdict, ClosedBeforeTheCallEndedIsGrpcProtocolError) {
  const GrpcVerdict verdict = judge_grpc_reply(GrpcReply{}, {.method = kDefaultGrpcMethod});
  EXPECT_EQ(verdict.diagnosis, Diagnosis::grpc_protocol_error);
  EXPECT_EQ(verdict.message,
            "the server closed the connection before the gRPC call "
            "/grpc.health.v1.Health/Check ended with a gRPC status");
}

}  // namespace
}  // namespace meshprobe::detail
