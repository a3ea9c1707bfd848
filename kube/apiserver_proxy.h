// The API server as a vantage (the README's Kubernetes mode): GET through the API server's
// service and pod proxy subresources, so the API server itself dials istiod
// -- the path a webhook call takes, and the one a private cluster's firewall
// breaks. The proxy's answers are read as the probe's verdict: istiod's own
// status when it got through, else the API server's error (`dial tcp
// IP:15017: i/o timeout`, `connect: connection refused`, x509 errors, ...)
// mapped to the same diagnosis codes as a direct probe.
#pragma once

#include <atomic>
#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "kube/client/api_client.h"
#include "probes/result.h"
#include "probes/target.h"

namespace meshprobe::kube {

class KubeApi;

inline constexpr std::string_view kApiserverVantage = "apiserver";

// /api/v1/namespaces/NS/services/https:NAME:PORT/proxy/PATH
std::string service_proxy_path(std::string_view ns, std::string_view service, std::string_view port,
                               std::string_view path);
// /api/v1/namespaces/NS/pods/https:POD:PORT/proxy/PATH
std::string pod_proxy_path(std::string_view ns, std::string_view pod, std::uint16_t port,
                           std::string_view path);

struct ProxyVerdict {
  Diagnosis diagnosis = Diagnosis::ok;
  std::optional<Phase> failed_phase;
  std::string message;
  int http_status = 0;  // istiod's status, when the request got through
  std::string dialled;  // "IP:PORT" the API server dialled, when it said
};

// The error the API server's proxy reported, from its body: the Status
// message (`error trying to reach service: dial tcp ...`) or the older plain
// text (`Error: 'dial tcp ...'\nTrying to reach: '...'`). nullopt when the
// body is not the proxy's own error, i.e. the answer came from istiod.
std::optional<std::string> proxy_error_text(long status, std::string_view body);

// Maps the Go error text of the API server's dial or round trip to a
// diagnosis and the phase it failed in.
ProxyVerdict classify_proxy_error(std::string_view error_text);

// Judges one proxy response. `budget` is the probe's timeout (for messages).
ProxyVerdict judge_proxy_response(const HttpResponse& response, int expected_status,
                                  std::chrono::milliseconds budget, std::string_view request,
                                  std::string_view server);

// One probe of `target` (https, host NAME.NS.svc) through the API server:
// through the pod proxy when `address` names a pinned address with a "pod"
// label, else through the service proxy. Blocks for at most target.timeout.
ProbeResult probe_via_apiserver(KubeApi& api, const Target& target, const std::string& address,
                                const std::atomic<bool>* cancel);

}  // namespace meshprobe::kube
