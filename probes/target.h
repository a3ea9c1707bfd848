// What to probe: one URL, its kind, the trust it verifies against and its
// time budget.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/expected.h"
#include "probes/diagnosis.h"

namespace meshprobe {

class CaBundle;

enum class ProbeKind { tcp, tls, https, grpc };

// A probe's whole time budget when nobody says otherwise (config defaults,
// `check --timeout`).
inline constexpr std::chrono::milliseconds kDefaultProbeTimeout{3000};

// How long a TLS target resumes its session before a full handshake verifies
// the served chain again, unless the config says otherwise (`defaults` and
// each target's `full_verify_interval`).
inline constexpr std::chrono::milliseconds kDefaultFullVerifyInterval{300000};

// The gRPC health check (grpc.health.v1): what a grpc probe calls unless
// the target says otherwise.
inline constexpr std::string_view kDefaultGrpcMethod = "/grpc.health.v1.Health/Check";

// Empty when `method` is a gRPC method path, "/SERVICE/METHOD"; otherwise
// what is wrong with it.
std::string grpc_method_problem(std::string_view method);

std::string_view kind_name(ProbeKind kind);
bool uses_tls(ProbeKind kind);

struct Target {
  std::string name;  // stable identity: the `target` label
  std::string url;   // as the user wrote it: the `url` label
  ProbeKind kind = ProbeKind::tcp;
  std::string host;  // DNS name or IP literal (IPv6 without brackets)
  std::uint16_t port = 0;
  std::string path = "/";  // https: path and query sent in the request

  // SNI and the name the certificate must cover. Defaults to the host; for an
  // IP literal the certificate must carry that IP as a SAN.
  std::string server_name;
  // Trust for the chain; null means the system store.
  std::shared_ptr<const CaBundle> ca;

  std::chrono::milliseconds timeout = kDefaultProbeTimeout;
  int expected_status = 200;
  // grpc: the method called (its :path) and whether the answer must be a
  // Health SERVING (otherwise any gRPC status proves a gRPC server).
  std::string grpc_method{kDefaultGrpcMethod};
  bool grpc_expect_serving = false;
  int expiry_warning_days = 14;
  // tls, https, grpc: a probe resumes the TLS session of the last one and
  // reuses its verification of the served chain, until this long after that
  // full verification; then (and after any failure) a full handshake verifies
  // the chain again. 0: every probe verifies in full (a Target made outside
  // the config, e.g. `check`'s built-in sets, unless it says otherwise).
  std::chrono::milliseconds full_verify_interval{0};

  // When set, these addresses are probed instead of resolving `host`
  // (endpoint discovery hands them in); SNI and the expected name still come
  // from `server_name`.
  std::vector<std::string> addresses;
  // What discovery knows about a pinned address (e.g. "ready", "pod",
  // "node"), keyed by the address as written in `addresses`. Results of that
  // address carry them, so outputs can say which endpoint was not ready.
  std::map<std::string, std::map<std::string, std::string>> address_labels;

  // Empty: probe from this host. Otherwise the name of a delegate registered
  // with the Prober that reaches the target some other way (e.g. "apiserver":
  // through the Kubernetes API server's proxy, which dials the target itself).
  std::string via;
  // The vantage results are reported under when it is not the prober's own
  // (a delegate that probes from elsewhere sets it, e.g. "apiserver").
  std::string vantage;

  std::map<std::string, std::string> labels;

  // `expect:` -- a negative test: the probe passes when it ends in one of
  // these codes (kBlocked for `expect: blocked`) and fails with
  // unexpectedly_reachable when the path opens. Empty: every layer must pass.
  DiagnosisSet expect;
};

// Parses `tcp://HOST:PORT`, `tls://HOST:PORT`, `https://HOST[:PORT]/PATH`,
// `grpc://HOST:PORT`. The name defaults to the URL itself.
Expected<Target> parse_target_url(std::string_view url);

}  // namespace meshprobe
