#include "agent/targets/builtin.h"

#include "config/service_host.h"

namespace meshprobe {

std::vector<Target> istiod_targets(const std::string& revision,
                                   const std::string& istio_namespace) {
  const std::string service = revision.empty() ? "istiod" : "istiod-" + revision;
  // The name the API server uses, and the one istiod's certificate carries:
  // no .cluster.local suffix.
  const std::string host = service + "." + istio_namespace + ".svc";

  struct Builtin {
    const char* name;
    std::string url;
  };
  // GET /ready is side-effect free on istiod's webhook server (1.23+);
  // /inject and /validate would log and count a failed injection.
  const Builtin builtins[] = {
      {"istiod-webhook", "https://" + host + ":15017/ready"},
      {"istiod-webhook-service", "https://" + host + ":443/ready"},
      {"istiod-xds", "grpc://" + host + ":15012"},
  };

  std::vector<Target> targets;
  for (const auto& builtin : builtins) {
    Target target = *parse_target_url(builtin.url);
    target.name = builtin.name;
    targets.push_back(std::move(target));
  }
  return targets;
}

namespace {

// The xDS target: the mesh config's discovery address when it names one,
// so the probe dials what the sidecars dial; else istiod's xDS port. One
// or the other, never both: they would probe the same pods twice.
std::string xds_target(const std::string& istiod_host, const std::string& discovery_address) {
  if (discovery_address.empty()) {
    return "  - name: istiod-xds-pods\n"
           "    url: grpc://" +
           istiod_host +
           ":15012\n"
           "    discover: endpoints\n"
           "    ca: mesh-root\n";
  }
  const auto target = parse_target_url("grpc://" + discovery_address);
  const bool service = target && parse_service_host(target->host).has_value();
  return "  - name: xds-discovery-address\n"
         "    url: \"grpc://" +
         discovery_address + "\"\n" + (service ? "    discover: endpoints\n" : "") +
         "    ca: mesh-root\n"
         "    labels: {discovery_address: mesh_config}\n";
}

}  // namespace

std::string kubernetes_builtin_config(const std::string& revision,
                                      const std::string& istio_namespace,
                                      const std::string& canary_namespace,
                                      const std::string& discovery_address) {
  const std::string suffix = revision.empty() ? "" : "-" + revision;
  const std::string host = "istiod" + suffix + "." + istio_namespace + ".svc";
  return "kubernetes: {istio_namespace: " + istio_namespace +
         (revision.empty() ? std::string() : ", revision: " + revision) +
         "}\n"
         "ca_bundles:\n"
         "  injector: {mutating_webhook: istio-sidecar-injector" +
         suffix +
         "}\n"
         "  mesh-root: {configmap: " +
         istio_namespace +
         "/istio-ca-root-cert, key: root-cert.pem}\n"
         "targets:\n"
         "  - name: istiod-webhook-pods\n"
         "    url: https://" +
         host +
         ":443/ready\n"
         "    discover: endpoints\n"
         "    ca: injector\n" +
         xds_target(host, discovery_address) +
         "  - name: istiod-webhook-from-apiserver\n"
         "    url: https://" +
         host +
         ":443/ready\n"
         "    via: apiserver\n" +
         (canary_namespace.empty() ? std::string()
                                   : "  - name: injection-dry-run\n"
                                     "    admission: inject\n"
                                     "    namespace: " +
                                         canary_namespace +
                                         "\n"
                                         "  - name: validation-dry-run\n"
                                         "    admission: validate\n"
                                         "    namespace: " +
                                         canary_namespace + "\n");
}

}  // namespace meshprobe
