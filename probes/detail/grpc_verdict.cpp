#include "probes/detail/grpc_verdict.h"

namespace meshprobe::detail {
namespace {

// The HTTP/2 error codes' names (RFC 9113 section 7).
std::string h2_error_name(std::uint32_t code) {
  static constexpr std::string_view kNames[] = {"NO_ERROR",
                                                "PROTOCOL_ERROR",
                                                "INTERNAL_ERROR",
                                                "FLOW_CONTROL_ERROR",
                                                "SETTINGS_TIMEOUT",
                                                "STREAM_CLOSED",
                                                "FRAME_SIZE_ERROR",
                                                "REFUSED_STREAM",
                                                "CANCEL",
                                                "COMPRESSION_ERROR",
                                                "CONNECT_ERROR",
                                                "ENHANCE_YOUR_CALM",
                                                "INADEQUATE_SECURITY",
                                                "HTTP_1_1_REQUIRED"};
  if (code < std::size(kNames)) return std::string(kNames[code]);
  return "error code " + std::to_string(code);
}

// "12 UNIMPLEMENTED", or the bare number outside the canonical codes.
std::string status_text(int status) {
  const std::string_view name = grpc_status_name(status);
  return std::to_string(status) + (name.empty() ? "" : " " + std::string(name));
}

std::string not_grpc_message(const GrpcReply& reply) {
  return "the port speaks HTTP/2 but not gRPC (HTTP status " + std::to_string(reply.http_status) +
         ", content-type \"" + reply.content_type +
         "\"): for istiod that is the webhook port (15017), not xDS (15012); check the "
         "discovery address";
}

// The call ended without a status: why, for a person.
std::string unfinished_message(const GrpcReply& reply, std::string_view method) {
  const std::string call = "the gRPC call " + std::string(method);
  switch (reply.end) {
    case GrpcCallEnd::reset:
      return call + " was reset by the server (RST_STREAM " + h2_error_name(reply.error_code) +
             ") before it ended with a gRPC status";
    case GrpcCallEnd::goaway:
      return "the server closed the HTTP/2 connection (GOAWAY " + h2_error_name(reply.error_code) +
             (reply.problem.empty() ? "" : ", \"" + reply.problem + "\"") + ") before " + call +
             " ended with a gRPC status";
    case GrpcCallEnd::malformed:
      return "the server broke HTTP/2 during " + call + ": " + reply.problem;
    case GrpcCallEnd::status:
      return "the server answered " + call + " as gRPC (HTTP status 200, content-type \"" +
             reply.content_type + "\") but ended the stream without grpc-status";
    case GrpcCallEnd::pending:
    case GrpcCallEnd::not_grpc: break;
  }
  return "the server closed the connection before " + call + " ended with a gRPC status" +
         (reply.headers_received ? " (after its response headers)" : "");
}

}  // namespace

GrpcVerdict judge_grpc_reply(const GrpcReply& reply, const GrpcExpectation& expect) {
  GrpcVerdict verdict;
  GrpcInfo& info = verdict.info;
  info.method = std::string(expect.method);
  info.http_status = reply.http_status > 0 ? reply.http_status : 0;
  info.content_type = reply.content_type;
  info.status = reply.grpc_status;
  info.message = reply.grpc_message;
  const bool health = expect.method == kDefaultGrpcMethod;
  if (health && reply.grpc_status == 0) info.serving_status = health_serving_status(reply.data);

  if (reply.end == GrpcCallEnd::not_grpc) {
    verdict.diagnosis = Diagnosis::grpc_not_grpc;
    verdict.message = not_grpc_message(reply);
    return verdict;
  }
  if (reply.end != GrpcCallEnd::status || !reply.grpc_status) {
    verdict.diagnosis = Diagnosis::grpc_protocol_error;
    verdict.message = unfinished_message(reply, expect.method);
    return verdict;
  }
  if (expect.expect_serving && info.serving_status != "SERVING") {
    verdict.diagnosis = Diagnosis::grpc_not_serving;
    verdict.message =
        *reply.grpc_status != 0
            ? std::string(expect.method) + " answered " + status_text(*reply.grpc_status) +
                  (info.message.empty() ? "" : " (\"" + info.message + "\")") + ", not SERVING"
            : std::string(expect.method) + " answered " +
                  (info.serving_status.empty() ? "no HealthCheckResponse" : info.serving_status) +
                  ", not SERVING";
  }
  return verdict;
}

}  // namespace meshprobe::detail
