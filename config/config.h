// The agent's configuration (the README's Config section and its Kubernetes
// config reference): what to probe, how often, with which trust, and where to
// serve results. Loaded strictly: any unknown key, wrong type, bad value or
// dangling reference is refused with FILE:LINE: message, so a config that
// loads is one the agent can run.
#pragma once

#include <chrono>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "config/listen_address.h"
#include "probes/ca_bundle.h"
#include "probes/target.h"

namespace meshprobe {

enum class LogFormat { logfmt, json };

// Where a CA bundle's certificates come from (the README's Config section,
// and its Kubernetes config reference for the cluster's): local PEM, or the
// cluster -- a webhook configuration's caBundle (what the API server trusts
// when it calls istiod), or a ConfigMap key (what proxies trust).
enum class CaSourceKind {
  file,
  inline_pem,
  system,
  mutating_webhook,
  validating_webhook,
  configmap,
};

bool from_kubernetes(CaSourceKind kind);

struct CaBundleSource {
  std::string name;
  CaSourceKind kind = CaSourceKind::system;
  std::string file;        // kind file: the path, a relative one taken from
                           // the config file's directory; re-read when it changes
  std::string inline_pem;  // kind inline_pem: the PEM text from the config
  // Kubernetes kinds: the webhook configuration's or ConfigMap's name and
  // namespace, the webhook entry (empty: the first) or the ConfigMap key.
  std::string object_name;
  std::string object_namespace;
  std::string webhook;
  std::string key;
  // Local kinds: loaded at parse time and shared by every target that names
  // the bundle. Kubernetes kinds: null here; read from the API at run time
  // (validating a config never contacts the cluster).
  std::shared_ptr<const CaBundle> bundle;
  int line = 0;  // where it was declared, for messages
};

// `discover:` -- what a Service host expands to.
enum class Discovery {
  none,       // the host as written (resolved by DNS)
  endpoints,  // the Service's EndpointSlice addresses, ready and not ready
  revisions,  // every revision Service (istiod, istiod-REV) and their endpoints
};

// `via:` -- who dials the target.
enum class Via {
  direct,     // this host
  apiserver,  // the Kubernetes API server, through its proxy subresources
};

// `admission:` -- a server-side dry-run create through the Kubernetes API
// server, which runs its admission chain (istiod's webhooks) as for a real
// object and persists nothing.
enum class Admission {
  none,
  inject,    // a Pod: the injector must add istio-proxy
  validate,  // an invalid Gateway: istiod's validation must refuse it
};

// The Prober delegates that run admission targets (Target::via), and the
// namespace they create in unless the target names one.
inline constexpr std::string_view kAdmissionInjectVia = "admission:inject";
inline constexpr std::string_view kAdmissionValidateVia = "admission:validate";
inline constexpr std::string_view kDefaultCanaryNamespace = "meshprobe-canary";
// An admission target's interval and timeout unless it sets them: one
// request a minute, and time for the API server to wait out a webhook's
// timeoutSeconds (at most 30 s) and answer.
inline constexpr std::chrono::milliseconds kAdmissionInterval{60000};
inline constexpr std::chrono::milliseconds kAdmissionTimeout{35000};

struct TargetConfig {
  // Fully built: kind, host, port and path from the URL; name, server_name,
  // ca, timeout, expected_status, expiry_warning_days and labels from the
  // target's keys or the defaults. A CA bundle from Kubernetes is attached
  // at run time (target->ca is null until then). Shared and immutable: the
  // running set probes this very Target when nothing needs changing, and
  // copies of the Config (reloads, Kubernetes reads) cost a pointer each.
  std::shared_ptr<const Target> target;
  std::string ca;  // the CA bundle's name; empty: the system store
  bool ca_from_kubernetes = false;
  bool explicit_server_name = false;  // server_name was written, not defaulted
  Discovery discover = Discovery::none;
  Via via = Via::direct;
  Admission admission = Admission::none;
  std::chrono::milliseconds interval{10000};
  int line = 0;  // where the target's entry starts

  // Whether probing it needs anything read from the Kubernetes API first.
  bool needs_kubernetes() const {
    return ca_from_kubernetes || discover != Discovery::none || via != Via::direct ||
           admission != Admission::none;
  }
};

// The `kubernetes` section: the API connection behind the Kubernetes CA
// sources, discovery, the API-server vantage and the hygiene checks.
struct KubernetesConfig {
  // A `kubernetes` section was written, or something needs the API.
  bool enabled = false;
  std::string kubeconfig;  // empty: the pod's in-cluster service account
  std::string context;     // empty: the kubeconfig's current-context
  // How often CA bundles, endpoints and the hygiene checks are read again.
  std::chrono::milliseconds refresh{60000};
  std::chrono::milliseconds request_timeout{10000};  // per API request
  bool hygiene = true;
  std::string istio_namespace = "istio-system";
  // The Istio revision whose mesh config (ConfigMap istio-REV) names the
  // discovery address; empty: the default revision's `istio`.
  std::string revision;
  int line = 0;
};

struct Config {
  std::string source;  // the file it came from, as given
  ListenAddress listen{"0.0.0.0", 9717};
  // `web_config_file`: TLS and basic auth for the endpoint (web_config.h),
  // relative to this file's directory; --web.config.file overrides it.
  // Empty: plain HTTP without authentication.
  std::string web_config_file;
  std::string vantage = "node";
  // From `node_name`, else the environment variable named by `node_name_env`
  // (NODE_NAME unless set), else the host name.
  std::string node_name;
  std::chrono::milliseconds default_interval{10000};
  std::chrono::milliseconds default_timeout = kDefaultProbeTimeout;
  int expiry_warning_days = 14;  // the default for targets
  // How long a TLS target may resume its session before a full handshake
  // verifies the served chain again (Target::full_verify_interval).
  std::chrono::milliseconds default_full_verify_interval = kDefaultFullVerifyInterval;
  int max_concurrency = 256;  // probes in flight at once
  LogFormat log_format = LogFormat::logfmt;
  KubernetesConfig kubernetes;
  std::vector<CaBundleSource> ca_bundles;
  std::vector<TargetConfig> targets;
};

// what() is "FILE:LINE: message", or "FILE: message" when no line applies
// (the file cannot be read, the host name cannot be found).
class ConfigError : public std::runtime_error {
 public:
  // `system_error`: the errno when a file could not be read, else 0.
  ConfigError(std::string source, int line, std::string message, int system_error = 0);

  const std::string& source() const { return source_; }
  int line() const { return line_; }  // 1-based; 0: the file as a whole
  const std::string& message() const { return message_; }
  // The machine, not the file, was the problem (out of descriptors or
  // memory): the same file may load when tried again.
  bool transient() const;

 private:
  std::string source_;
  int line_;
  std::string message_;
  int system_error_;
};

// Reads, parses and validates the file at `path`; CA bundles are loaded too.
// Throws ConfigError.
Config load_config(const std::string& path);

// The same for text already in memory. `source` names it in messages, and
// relative paths (a CA bundle's `file`, `web_config_file`, `kubeconfig`) are
// taken relative to its directory.
Config parse_config(const std::string& yaml_text, const std::string& source);

}  // namespace meshprobe
