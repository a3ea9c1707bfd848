// The gRPC probe's reading of the server's frames after SETTINGS (frame
// layer, HPACK, bounds) and the verdict over what it read: any bytes end in
// a reply and a verdict, never a crash, and the bounds hold.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "probes/detail/grpc_frames.h"
#include "probes/detail/grpc_verdict.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  namespace d = meshprobe::detail;
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  // Whole, and split at a point the input chooses: the reader must not
  // depend on how reads cut the stream.
  const d::GrpcReply whole = d::read_grpc_reply(bytes);
  d::GrpcReplyReader reader;
  const std::size_t cut = size == 0 ? 0 : data[0] % size;
  reader.feed(bytes.substr(0, cut));
  reader.feed(bytes.substr(cut));
  const d::GrpcReply& split = reader.reply();
  if (split.end != whole.end || split.grpc_status != whole.grpc_status ||
      split.data != whole.data || split.grpc_message != whole.grpc_message) {
    __builtin_trap();
  }
  if (whole.data.size() > d::kMaxGrpcDataKept || whole.grpc_message.size() > d::kMaxGrpcText + 2 ||
      whole.content_type.size() > d::kMaxGrpcText || whole.frames > d::kMaxGrpcFrames + 1) {
    __builtin_trap();
  }
  const d::GrpcVerdict verdict = d::judge_grpc_reply(
      whole, {.method = "/grpc.health.v1.Health/Check", .expect_serving = true});
  // ok only with a gRPC status and SERVING.
  if (verdict.diagnosis == meshprobe::Diagnosis::ok &&
      (whole.end != d::GrpcCallEnd::status || !whole.grpc_status ||
       verdict.info.serving_status != "SERVING")) {
    __builtin_trap();
  }
  return 0;
}
