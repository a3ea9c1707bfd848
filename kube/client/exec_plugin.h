// Exec credential plugins (a kubeconfig user's `exec`), run as kubectl runs
// them (client-go's exec authenticator): the command with its args and env,
// KUBERNETES_EXEC_INFO describing the request, stdin on /dev/null (meshprobe
// never has a terminal), stdout the ExecCredential, stderr to the log. The
// credential is held in memory only and never appears in a message.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/expected.h"

namespace meshprobe::kube {

inline constexpr std::string_view kExecApiV1 = "client.authentication.k8s.io/v1";
inline constexpr std::string_view kExecApiV1beta1 = "client.authentication.k8s.io/v1beta1";

enum class ExecInteractiveMode { never, if_available, always };

struct ExecConfig {
  std::string user;         // the kubeconfig user, for messages
  std::string api_version;  // kExecApiV1 or kExecApiV1beta1
  std::string command;      // as written: found on PATH unless it holds a '/'
  std::string base_dir;     // the kubeconfig's directory: anchors a relative command
  std::vector<std::string> args;
  std::vector<std::pair<std::string, std::string>> env;  // added to meshprobe's environment
  std::string install_hint;
  ExecInteractiveMode interactive_mode = ExecInteractiveMode::if_available;
  bool provide_cluster_info = false;

  // spec.cluster of KUBERNETES_EXEC_INFO when provide_cluster_info is set.
  std::string server;
  std::string ca_pem;
  bool insecure_skip_tls_verify = false;
  std::string proxy_url;
  // The cluster's `client.authentication.k8s.io/exec` extension, as JSON
  // (spec.cluster.config); empty: none.
  std::string extension_json;

  // A run that takes longer is killed (its whole process group).
  std::chrono::milliseconds timeout{30000};
  // A credential this close to its expirationTimestamp is renewed first.
  std::chrono::milliseconds refresh_before{10000};
  // Receives the plugin's stderr (bounded); empty: meshprobe's own stderr.
  std::function<void(std::string_view)> on_stderr;
};

struct ExecCredential {
  std::string token;
  std::string client_cert_pem;
  std::string client_key_pem;
  std::optional<std::chrono::system_clock::time_point> expiry;  // none: until a 401
  std::uint64_t generation = 0;                                 // 1 for the first run
};

// The plugin's ExecCredential JSON (stdout), checked against the configured
// apiVersion. Messages never quote the document.
Expected<ExecCredential> parse_exec_credential(std::string_view json, const ExecConfig& config);

// KUBERNETES_EXEC_INFO's value: an ExecCredential with spec.interactive
// false and, with provide_cluster_info, spec.cluster.
std::string exec_info_json(const ExecConfig& config);

// RFC 3339 ("2026-01-02T03:04:05Z", fractions, offsets).
std::optional<std::chrono::system_clock::time_point> parse_rfc3339(std::string_view text);

// One user's plugin and its cached credential. Thread-safe: runs are
// serialized, so requests arriving together run the plugin once. Blocks the
// calling thread while the plugin runs.
class ExecAuthenticator {
 public:
  explicit ExecAuthenticator(ExecConfig config);

  // The cached credential, or a fresh run's when there is none, it is about
  // to expire, or it is the one of generation `rejected` (the API server
  // answered 401 to it; 0: none was).
  Expected<std::shared_ptr<const ExecCredential>> credential(std::uint64_t rejected = 0);

  int runs() const;
  const ExecConfig& config() const { return config_; }

 private:
  Expected<ExecCredential> run() const;

  ExecConfig config_;
  mutable std::mutex mutex_;
  std::shared_ptr<const ExecCredential> cached_;
  std::uint64_t generation_ = 0;
  int runs_ = 0;
};

}  // namespace meshprobe::kube
