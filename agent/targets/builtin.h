// The targets `meshprobe check` probes when given none: istiod's webhook
// (directly on 15017 and through the Service port 443) and its xDS port;
// with a Kubernetes connection, the Kubernetes-aware set.
#pragma once

#include <string>
#include <vector>

#include "probes/target.h"

namespace meshprobe {

// `revision` empty: the default `istiod` Service; otherwise `istiod-REV`.
std::vector<Target> istiod_targets(const std::string& revision,
                                   const std::string& istio_namespace = "istio-system");

// The YAML `check --kubeconfig` probes when given no targets: istiod's
// webhook pods verified with the injector's caBundle, its xDS pods with the
// mesh root ConfigMap, the webhook through the API server, and -- given a
// canary namespace -- the admission targets that dry-run a pod and an
// invalid Gateway there (the API server's own webhook calls).
// `discovery_address`, when the mesh config names one (kube/mesh_config.h),
// is the xDS target instead of istiod's Service: `xds-discovery-address`,
// grpc://ADDRESS (its pods when the host is a Service), labelled
// discovery_address=mesh_config. Empty: istiod[-REV]'s xDS port, Istio's
// default.
std::string kubernetes_builtin_config(const std::string& revision,
                                      const std::string& istio_namespace = "istio-system",
                                      const std::string& canary_namespace = "",
                                      const std::string& discovery_address = "");

}  // namespace meshprobe
