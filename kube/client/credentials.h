// How meshprobe authenticates to the Kubernetes API: the in-cluster service
// account of a DaemonSet pod, or a kubeconfig file on a bastion host. Loading
// reads local files only; nothing here talks to the API server.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "common/expected.h"
#include "kube/client/exec_plugin.h"

namespace meshprobe::kube {

struct Credentials {
  std::string server;  // "https://HOST:PORT", no trailing slash
  std::string ca_pem;  // trust for the API server; empty: the system store
  bool insecure_skip_tls_verify = false;
  std::string proxy_url;  // kubeconfig proxy-url; empty: none (or the environment's)

  // Bearer token: a fixed one, or a file re-read whenever it changes (the
  // kubelet rotates projected service-account tokens in place).
  std::string token;
  std::string token_file;

  std::string client_cert_pem;
  std::string client_key_pem;

  // A kubeconfig user's exec credential plugin: the API client runs it (on
  // its request's thread) for a token or client certificate, which replace
  // the ones above.
  std::optional<ExecConfig> exec;

  // Where these came from, for messages: `kubeconfig FILE, context NAME` or
  // `in-cluster service account`.
  std::string description;
};

// The pod's view of its cluster: KUBERNETES_SERVICE_HOST/PORT and the mounted
// service-account directory.
struct InClusterEnvironment {
  std::string host;
  std::string port;
  std::string service_account_dir = "/var/run/secrets/kubernetes.io/serviceaccount";

  // From this process's environment variables.
  static InClusterEnvironment from_process();
};

// Fails outside a pod (no KUBERNETES_SERVICE_HOST) or without a mounted token.
Expected<Credentials> in_cluster_credentials(const InClusterEnvironment& environment);

// Reads a kubeconfig: the named context, else current-context; its cluster's
// server and CA (data or file); its user's token, token file, or client
// certificate and key (data or file), or its exec credential plugin (not run
// here: see exec_plugin.h). An auth-provider is refused with the name of
// the exec plugin that replaced it. Relative paths are taken from the
// kubeconfig's directory, as kubectl does.
Expected<Credentials> load_kubeconfig(const std::string& path, const std::string& context = {});

// The same for kubeconfig text; `path` names it and anchors relative paths.
Expected<Credentials> parse_kubeconfig(std::string_view yaml, const std::string& path,
                                       const std::string& context = {});

}  // namespace meshprobe::kube
