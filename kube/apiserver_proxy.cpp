#include "kube/apiserver_proxy.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdio>

#include "common/text.h"
#include "kube/client/objects.h"
#include "kube/client/reads.h"
#include "kube/endpoint_discovery.h"

namespace meshprobe::kube {
namespace {

using Clock = std::chrono::steady_clock;

std::string lowercase(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

std::string seconds_text(std::chrono::milliseconds d) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%gs", static_cast<double>(d.count()) / 1000.0);
  return buf;
}

// "dial tcp 10.0.0.5:15017: i/o timeout" -> "10.0.0.5:15017".
std::string dialled_address(std::string_view text) {
  constexpr std::string_view kDial = "dial tcp ";
  const std::size_t at = text.find(kDial);
  if (at == std::string_view::npos) return {};
  const std::size_t start = at + kDial.size();
  const std::size_t end = text.find(": ", start);
  if (end == std::string_view::npos) return {};
  return std::string(text.substr(start, end - start));
}

struct Rule {
  std::array<std::string_view, 4> any;  // the rule applies when one of these occurs
  bool needs_dial;                      // ... inside a `dial tcp` error
  Diagnosis diagnosis;
  Phase phase;
};

// In order: the first rule that applies wins. Dial errors come first, since
// "i/o timeout" and "context deadline exceeded" also end later phases.
constexpr Rule kRules[] = {
    {{"no endpoints available for service"}, false, Diagnosis::tcp_refused, Phase::connect},
    {{"i/o timeout", "connection timed out", "context deadline exceeded"},
     true,
     Diagnosis::tcp_timeout,
     Phase::connect},
    {{"connection refused"}, false, Diagnosis::tcp_refused, Phase::connect},
    {{"no route to host", "network is unreachable", "host is unreachable"},
     false,
     Diagnosis::tcp_unreachable,
     Phase::connect},
    {{"no such host"}, false, Diagnosis::dns_not_found, Phase::resolve},
    {{"certificate signed by unknown authority"},
     false,
     Diagnosis::tls_unknown_authority,
     Phase::tls},
    {{"certificate is valid for", "certificate is not valid for any names",
      "doesn't contain any ip sans"},
     false,
     Diagnosis::tls_name_mismatch,
     Phase::tls},
    {{"tls handshake timeout"}, false, Diagnosis::tls_timeout, Phase::tls},
    {{"x509:", "tls:", "server gave http response to https client"},
     false,
     Diagnosis::tls_protocol_error,
     Phase::tls},
    // Go's net/http while it still had no connection (dial or handshake):
    // `request canceled while waiting for connection (Client.Timeout ...)`.
    {{"while waiting for connection"}, false, Diagnosis::tcp_timeout, Phase::connect},
    {{"timeout awaiting response headers", "awaiting headers", "context deadline exceeded",
      "i/o timeout"},
     false,
     Diagnosis::http_timeout,
     Phase::app},
    {{"eof", "connection reset by peer", "malformed http", "broken pipe"},
     false,
     Diagnosis::http_protocol_error,
     Phase::app},
};

}  // namespace

std::string service_proxy_path(std::string_view ns, std::string_view service, std::string_view port,
                               std::string_view path) {
  std::string out = "/api/v1/namespaces/" + url_encode(ns) +
                    "/services/https:" + url_encode(service) + ":" + url_encode(port) + "/proxy";
  out += path.empty() ? "/" : std::string(path);
  return out;
}

std::string pod_proxy_path(std::string_view ns, std::string_view pod, std::uint16_t port,
                           std::string_view path) {
  std::string out = "/api/v1/namespaces/" + url_encode(ns) + "/pods/https:" + url_encode(pod) +
                    ":" + std::to_string(port) + "/proxy";
  out += path.empty() ? "/" : std::string(path);
  return out;
}

std::optional<std::string> proxy_error_text(long status, std::string_view body) {
  if (auto parsed = parse_status(body)) return parsed->message;
  if (status < 500) return std::nullopt;
  // Before Status bodies (Kubernetes < 1.2x), the proxy wrote plain text:
  //   Error: 'dial tcp 10.0.0.5:15017: i/o timeout'
  //   Trying to reach: 'https://10.0.0.5:15017/ready'
  // or "Error trying to reach service: 'dial tcp ...'".
  for (std::string_view prefix :
       {std::string_view("Error: '"), std::string_view("Error trying to reach service: '")}) {
    if (body.starts_with(prefix)) {
      const std::string_view rest = body.substr(prefix.size());
      return std::string(rest.substr(0, rest.find('\'')));
    }
  }
  if (body.starts_with("Error trying to reach service: ")) return std::string(body);
  return std::nullopt;
}

ProxyVerdict classify_proxy_error(std::string_view text) {
  const std::string lower = lowercase(text);
  const bool dial = has(lower, "dial tcp");
  ProxyVerdict verdict;
  verdict.dialled = dialled_address(text);
  // A webhook's Service that does not exist: `service "istiod" not found`
  // (the guide's `Service "istiod" not found`), the API server's lookup of
  // the Service, before any DNS.
  if ((has(lower, "service \"") || has(lower, "services \"")) && has(lower, "\" not found")) {
    verdict.diagnosis = Diagnosis::dns_not_found;
    verdict.failed_phase = Phase::resolve;
  }
  // A dial that failed in the name's lookup (a `url:` webhook): `dial tcp:
  // lookup NAME on 10.96.0.10:53: read udp ...: i/o timeout` is the resolver's
  // failure, not a dropped connect; `no such host` is left to its rule.
  if (has(lower, "dial tcp: lookup ") && !has(lower, "no such host")) {
    verdict.diagnosis = Diagnosis::dns_failure;
    verdict.failed_phase = Phase::resolve;
  }
  for (const Rule& rule : kRules) {
    if (verdict.failed_phase) break;
    if (rule.needs_dial && !dial) continue;
    const bool applies = std::any_of(rule.any.begin(), rule.any.end(), [&](std::string_view n) {
      return !n.empty() && has(lower, n);
    });
    if (!applies) continue;
    verdict.diagnosis = rule.diagnosis;
    verdict.failed_phase = rule.phase;
    break;
  }
  if (!verdict.failed_phase) {
    verdict.diagnosis = Diagnosis::kubernetes_api_error;
    verdict.failed_phase = Phase::app;
  }
  // Expiry: Go says "current time X is after Y" (expired) or "is before"
  // (not yet valid).
  if (has(lower, "certificate has expired or is not yet valid")) {
    verdict.diagnosis =
        has(lower, "is before") ? Diagnosis::tls_not_yet_valid : Diagnosis::tls_expired;
    verdict.failed_phase = Phase::tls;
  }
  verdict.message = bounded_text(text);
  return verdict;
}

ProxyVerdict judge_proxy_response(const HttpResponse& response, int expected_status,
                                  std::chrono::milliseconds budget, std::string_view request,
                                  std::string_view server) {
  ProxyVerdict verdict;
  const std::string via = " (GET " + std::string(request) + " through the API server)";
  if (response.status == 0) {
    if (response.cancelled) {
      verdict = {Diagnosis::tcp_timeout, Phase::connect, "cancelled" + via, 0, {}};
    } else if (response.timed_out && response.request_sent) {
      // The API server took the request and kept it: it is still dialling
      // istiod. Its proxy gives up only after about 30 s, with `dial tcp
      // IP:15017: i/o timeout`; a webhook call gives up sooner with `context
      // deadline exceeded`. Either way, the API server cannot reach istiod.
      verdict = {Diagnosis::tcp_timeout,
                 Phase::connect,
                 "the API server took the request but did not answer within " +
                     seconds_text(budget) +
                     ": it is still trying to reach istiod, as behind a dropping firewall "
                     "(its proxy reports `dial tcp IP:15017: i/o timeout` after about 30 s; "
                     "a timeout of 35s shows it)" +
                     via,
                 0,
                 {}};
    } else {
      verdict = {
          Diagnosis::kubernetes_api_error,
          Phase::connect,
          "cannot reach the Kubernetes API server " + std::string(server) + ": " + response.error,
          0,
          {}};
    }
    return verdict;
  }
  if (response.status == 401 || response.status == 403) {
    const ApiAccess& access =
        has(request, "/pods/") ? access::kGetPodProxy : access::kGetServiceProxy;
    // The namespace is the path's fourth segment: /api/v1/namespaces/NS/...
    std::string_view ns = request.substr(std::string_view("/api/v1/namespaces/").size());
    ns = ns.substr(0, ns.find('/'));
    return {Diagnosis::kubernetes_api_error,
            Phase::connect,
            describe_failure(response, access, ns, server),
            0,
            {}};
  }
  if (auto error = proxy_error_text(response.status, response.body)) {
    if (response.status == 404) {
      // `services "istiod-canary" not found`: the guide's `Service "istiod" not found`.
      const bool service = has(*error, "services \"");
      return {service ? Diagnosis::dns_not_found : Diagnosis::kubernetes_api_error,
              Phase::resolve,
              bounded_text(*error) + (service ? "" : "; the next endpoint refresh drops it") + via,
              0,
              {}};
    }
    verdict = classify_proxy_error(*error);
    verdict.message =
        "the API server answered " + std::to_string(response.status) + ": " + verdict.message + via;
    return verdict;
  }
  // Not the proxy's own error: istiod answered, through the API server.
  verdict.http_status = static_cast<int>(response.status);
  if (response.status == expected_status) {
    verdict.message = "istiod answered " + std::to_string(response.status) + via +
                      "; the proxy does not check istiod's certificate against the caBundle, and "
                      "a managed control plane may route it unlike webhook calls";
    return verdict;
  }
  verdict.diagnosis = Diagnosis::http_unexpected_status;
  verdict.failed_phase = Phase::app;
  verdict.message = "istiod answered " + std::to_string(response.status) + ", expected " +
                    std::to_string(expected_status) + via;
  return verdict;
}

ProbeResult probe_via_apiserver(KubeApi& api, const Target& target, const std::string& address,
                                const std::atomic<bool>* cancel) {
  const auto started = Clock::now();
  ProbeResult result = result_for(target);
  if (result.vantage.empty()) result.vantage = std::string(kApiserverVantage);
  const auto finish = [&](ProxyVerdict verdict) {
    result.diagnosis = verdict.diagnosis;
    result.success = verdict.diagnosis == Diagnosis::ok;
    result.failed_phase = result.success ? std::nullopt : verdict.failed_phase;
    result.message = std::move(verdict.message);
    result.http_status = verdict.http_status;
    result.duration = Clock::now() - started;
    return result;
  };

  const auto service = parse_service_host(target.host);
  if (!service) {
    return finish({Diagnosis::kubernetes_api_error,
                   Phase::resolve,
                   "the API server proxies to Services and pods only; " + target.host +
                       " is not NAME.NAMESPACE.svc",
                   0,
                   {}});
  }
  std::string path;
  if (address.empty()) {
    result.address = service->host();
    path = service_proxy_path(service->ns, service->name, std::to_string(target.port), target.path);
  } else {
    result.address = address;
    auto labels = target.address_labels.find(address);
    if (labels != target.address_labels.end()) result.address_labels = labels->second;
    const auto pod = result.address_labels.find("pod");
    if (pod == result.address_labels.end() || pod->second.empty()) {
      return finish(
          {Diagnosis::kubernetes_api_error,
           Phase::resolve,
           "endpoint " + address + " names no pod (no targetRef), so the pod proxy cannot reach it",
           0,
           {}});
    }
    path = pod_proxy_path(service->ns, pod->second, target.port, target.path);
  }

  RequestOptions request;
  request.retry = false;
  request.timeout = target.timeout;
  request.cancel = cancel;
  const HttpResponse response = api.proxy_get(path, request);
  if (response.status != 0) result.phases.app = response.elapsed;
  result.cancelled = response.cancelled;
  return finish(judge_proxy_response(response, target.expected_status, target.timeout, path,
                                     api.client().credentials().server));
}

}  // namespace meshprobe::kube
