// What a gRPC reply (grpc_frames.h) says about the port: a gRPC server, or
// which kind of not. Pure, so the fuzzer drives it with the reader.
// Private to probes/.
#pragma once

#include <string>
#include <string_view>

#include "probes/detail/grpc_frames.h"
#include "probes/diagnosis.h"
#include "probes/result.h"
#include "probes/target.h"

namespace meshprobe::detail {

struct GrpcExpectation {
  std::string_view method;
  bool expect_serving = false;  // Target::grpc_expect_serving
};

struct GrpcVerdict {
  Diagnosis diagnosis = Diagnosis::ok;
  std::string message;  // empty when ok
  GrpcInfo info;
};

// Any grpc-status proves a gRPC server: ok, UNIMPLEMENTED and
// UNAUTHENTICATED included, unless the expectation asks for SERVING. A reply
// still pending is one the server closed the connection on.
GrpcVerdict judge_grpc_reply(const GrpcReply& reply, const GrpcExpectation& expect);

}  // namespace meshprobe::detail
