// `meshprobe agent`: load the config, probe on schedule, serve the results,
// reload on SIGHUP or a changed file, stop cleanly on SIGTERM/SIGINT.
#pragma once

#include <chrono>
#include <iosfwd>
#include <optional>
#include <string>

#include "config/listen_address.h"

namespace meshprobe {

struct AgentOptions {
  std::string config_path;
  std::optional<ListenAddress> listen;  // overrides the config's `listen`
  std::string kubeconfig;               // overrides the config's kubernetes.kubeconfig
  // --web.config.file: TLS and basic auth for the endpoint, overriding the
  // config's web_config_file.
  std::string web_config_file;
  // How often the config and CA bundle files are checked for changes.
  std::chrono::milliseconds watch_interval{2000};
  // --web.enable-lifecycle: POST /-/reload reloads the config.
  bool enable_lifecycle = false;
};

// Runs until SIGTERM or SIGINT. Returns the process exit code: 0 after a
// clean stop, 2 when the initial config is refused, 1 when the endpoint
// cannot be served (e.g. the port is taken).
int run_agent(const AgentOptions& options, std::ostream& log_stream);

}  // namespace meshprobe
