#include "probes/diagnosis.h"

namespace meshprobe {
namespace {

struct Entry {
  std::string_view code;
  std::string_view meaning;
  std::string_view remedy;
};

// Indexed by Diagnosis; the static_assert below keeps the two in step.
constexpr Entry kCatalogue[] = {
    {"ok", "all layers passed", ""},
    {"dns_not_found",
     "the name does not exist (NXDOMAIN): Service \"istiod\" not found, or the "
     "revision in the host name is wrong",
     "verify the Istio installation and the revision in the host name "
     "(kubectl -n istio-system get svc)"},
    {"dns_failure", "the resolver failed or did not answer (SERVFAIL, timeout)",
     "check resolv.conf and the pod's dnsPolicy (hostNetwork pods need "
     "ClusterFirstWithHostNet)"},
    {"tcp_timeout",
     "no answer to the TCP connect: a firewall drops the traffic (on private "
     "clusters the control plane cannot reach 15017: context deadline exceeded)",
     "allow TCP to the port from the source range (the webhook: control-plane "
     "CIDR to the nodes on 15017; xDS: the nodes and pods to istiod on 15012)"},
    {"tcp_refused",
     "the connection was refused: nothing listens, or the Service has no ready "
     "endpoints (no endpoints available for service \"istiod\")",
     "check that the istiod pods are running and ready "
     "(kubectl -n istio-system get pods,endpointslices)"},
    {"tcp_unreachable",
     "the host or network is unreachable (ICMP unreachable or "
     "administratively prohibited): a missing route or a rejecting firewall",
     "check the routes and the firewall's reject rules between source and "
     "target"},
    {"tls_timeout",
     "TCP connected but the TLS handshake stalled: a middlebox or a non-TLS "
     "listener swallowed the ClientHello",
     "check proxies on the path and the port's protocol"},
    {"tls_protocol_error",
     "the port does not speak the expected TLS (alert, garbage or unsupported "
     "version)",
     "check that the port is istiod's TLS port and the TLS settings"},
    {"tls_unknown_authority",
     "x509: certificate signed by unknown authority: the CA bundle is missing "
     "or stale",
     "re-patch the webhook caBundle (restart istiod) or fix the configured CA "
     "bundle"},
    {"tls_name_mismatch", "the certificate does not cover the name the client uses",
     "fix the Service name / revision in the address, or the certificate's "
     "SANs"},
    {"tls_expired", "the certificate has expired: rotation failed",
     "rotate the certificate (restart istiod or check its CA integration)"},
    {"tls_not_yet_valid", "the certificate is not valid yet: clock skew or a premature rotation",
     "check NTP on the client and on istiod's node"},
    {"tls_invalid_certificate",
     "a certificate of the chain breaks a rule Go's crypto/x509 enforces (the message "
     "names it): the caBundle is right but the certificate is not acceptable to the API "
     "server",
     "reissue the certificate the message names with what it names (basicConstraints, "
     "keyUsage, extended key usage, name constraints, path length, a critical extension, "
     "the signature algorithm or the key)"},
    {"http_timeout",
     "connected, but no response headers came (Client.Timeout exceeded while "
     "awaiting headers): the webhook handler is hung or overloaded",
     "check istiod's logs and load"},
    {"http_protocol_error",
     "connected, but the answer is not an HTTP/1.1 response (closed early or "
     "malformed)",
     "check that the port serves HTTPS and the path is right"},
    {"http_unexpected_status",
     "the response status is not the expected one: wrong path or a handler "
     "error",
     "check the webhook path and istiod's logs"},
    {"grpc_not_h2",
     "the port did not negotiate HTTP/2 (ALPN h2) or answer the preface with "
     "SETTINGS: it is not istiod's xDS gRPC (no healthy upstream)",
     "check the discovery address in the mesh ProxyConfig and the istiod "
     "Service it names"},
    {"grpc_not_grpc",
     "the port speaks HTTP/2 but answered the gRPC call with something else (an HTTP "
     "status other than 200 or a content-type other than application/grpc; grpc-go: "
     "code = Unimplemented desc = Not Found: HTTP status code 404): for istiod, the "
     "webhook port (15017) instead of xDS (15012)",
     "check the discovery address in the mesh ProxyConfig and the port of the istiod "
     "Service it names (xDS is 15012, the webhook 15017)"},
    {"grpc_protocol_error",
     "the server took the gRPC call but did not end it with a gRPC status: it reset the "
     "stream, went away (GOAWAY), closed the connection, answered without grpc-status, or "
     "broke HTTP/2 (undecodable or oversized headers, flow control)",
     "read the message; check istiod's logs and what sits in front of the port (a proxy "
     "or load balancer that speaks HTTP/2 but not gRPC)"},
    {"grpc_timeout",
     "HTTP/2 is up, but the gRPC call got no status within the timeout (grpc-go: code = "
     "DeadlineExceeded): istiod is hung or overloaded",
     "check istiod's logs, CPU and memory"},
    {"grpc_not_serving",
     "the target expects the gRPC health service to say SERVING (grpc_expect_serving), "
     "and it said otherwise: NOT_SERVING, SERVICE_UNKNOWN, UNKNOWN, or a status that is "
     "not OK (e.g. UNIMPLEMENTED: no health service)",
     "check the health of the service the message names, or drop grpc_expect_serving for "
     "servers without a health service (istiod's xDS port has none)"},
    {"local_resource",
     "the prober ran out of a local resource (file descriptors, memory, "
     "ephemeral ports)",
     "raise the agent's limits (ulimit -n) or reduce the number of targets"},
    {"kubernetes_api_error",
     "meshprobe could not read what the probe needs from the Kubernetes API "
     "(its CA bundle source, the Service's endpoints, or the API server's "
     "proxy): credentials refused (401), RBAC missing (403), an object that "
     "does not exist, or the API server unreachable",
     "read the message: grant the RBAC verb it names (deploy/rbac.yaml), fix "
     "the kubeconfig or service account, or the object's name in the config"},
    {"unexpectedly_reachable",
     "the path the firewall must keep closed is open: the target is a negative "
     "test (expect: blocked, or the diagnoses it must end in) and its "
     "connection opened (the message says how far it got)",
     "restore the firewall rule, NetworkPolicy or security group that closes "
     "the path (or, if the path is meant to be open now, drop the target's "
     "expect)"},
    {"injection_skipped",
     "the API server admitted the pod without a sidecar: no injector webhook "
     "selected the namespace, or the webhook failed and its failurePolicy is "
     "Ignore",
     "label the namespace (istio-injection=enabled or istio.io/rev=REV), check "
     "the MutatingWebhookConfiguration's namespaceSelector and failurePolicy, "
     "then whether the API server reaches the webhook"},
    {"webhook_timeout",
     "the API server's call to the webhook ran out of time with a bare "
     "`context deadline exceeded`: it cannot say whether the dial or the "
     "handler was slow",
     "check the firewall from the control plane to the nodes on 15017, "
     "istiod's load and logs, and the webhook's timeoutSeconds"},
    {"webhook_validation_not_enforced",
     "a dry-run create of an invalid Istio resource was admitted: istiod's "
     "validating webhook is not called or does not fail closed "
     "(failurePolicy Ignore, the webhook configuration missing, or its "
     "selector not matching)",
     "make the API server reach istiod on 15017 and restart istiod (it sets "
     "failurePolicy Fail once the webhook works), or reinstall the "
     "ValidatingWebhookConfiguration"},
};

static_assert(std::size(kCatalogue) == std::size(kAllDiagnoses));

const Entry& entry(Diagnosis d) { return kCatalogue[static_cast<std::size_t>(d)]; }

}  // namespace

std::string_view code(Diagnosis d) { return entry(d).code; }
std::string_view meaning(Diagnosis d) { return entry(d).meaning; }
std::string_view remedy(Diagnosis d) { return entry(d).remedy; }

std::string doc_link(std::string_view code) {
  return std::string(kDiagnosesDoc) + "#" + std::string(code);
}

bool parse_diagnosis(std::string_view text, Diagnosis& out) {
  for (Diagnosis d : kAllDiagnoses) {
    if (code(d) == text) {
      out = d;
      return true;
    }
  }
  return false;
}

std::string codes_text(const DiagnosisSet& set, std::string_view separator) {
  std::string out;
  for (Diagnosis d : kAllDiagnoses) {
    if (!set.contains(d)) continue;
    if (!out.empty()) out += separator;
    out += code(d);
  }
  return out;
}

}  // namespace meshprobe
