// How times, durations and the gRPC call read in every output: JSON
// seconds, the table's and the page's latencies and gRPC line, RFC 3339
// timestamps. One copy each, so `check` and /status never disagree.
#pragma once

#include <string>

#include "probes/result.h"

namespace meshprobe {

// A duration in seconds, as the JSON outputs carry it.
double in_seconds(Duration duration);

// "12.3 ms" below a second, "1.25 s" above: what a person reads.
std::string format_latency(Duration duration);

// The gRPC call in one line, as the table and the page show it:
// "/grpc.health.v1.Health/Check: grpc-status 12 UNIMPLEMENTED (\"...\")",
// with the serving status or, before any status, the HTTP answer.
std::string grpc_summary(const GrpcInfo& grpc);

// What a result that met its expectation (ProbeResult::observed) shows in
// place of "ok": "blocked (expected)" when the connection did not open,
// "failed (expected)" for any other expected failure; empty otherwise.
std::string expected_outcome(const ProbeResult& result);

// A time as RFC 3339 in UTC, to the whole second: "2025-11-24T21:43:09Z".
std::string rfc3339(WallClock::time_point time);

}  // namespace meshprobe
