// The agent's configuration (SPEC section 9): what to probe, how often, with
// which trust, and where to serve results. Loaded strictly: any unknown key,
// wrong type, bad value or dangling reference is refused with
// FILE:LINE: message, so a config that loads is one the agent can run.
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

// Where a CA bundle's certificates come from. The Kubernetes sources of SPEC
// section 3 (a webhook configuration's caBundle, a ConfigMap key) join this
// list with the Kubernetes client.
enum class CaSourceKind { file, inline_pem, system };

struct CaBundleSource {
  std::string name;
  CaSourceKind kind = CaSourceKind::system;
  std::string file;        // kind file: the path, a relative one taken from
                           // the config file's directory; re-read when it changes
  std::string inline_pem;  // kind inline_pem: the PEM text from the config
  // Loaded at parse time, and shared by every target that names the bundle.
  std::shared_ptr<const CaBundle> bundle;
  int line = 0;  // where it was declared, for messages
};

struct TargetConfig {
  // Fully built: kind, host, port and path from the URL; name, server_name,
  // ca, timeout, expected_status, expiry_warning_days and labels from the
  // target's keys or the defaults.
  Target target;
  std::string ca;  // the CA bundle's name; empty: the system store
  std::chrono::milliseconds interval{10000};
  int line = 0;    // where the target's entry starts
};

struct Config {
  std::string source;  // the file it came from, as given
  ListenAddress listen{"0.0.0.0", 9717};
  std::string vantage = "node";
  // From `node_name`, else the environment variable named by `node_name_env`
  // (NODE_NAME unless set), else the host name.
  std::string node_name;
  std::chrono::milliseconds default_interval{10000};
  std::chrono::milliseconds default_timeout{3000};
  int expiry_warning_days = 14;  // the default for targets
  int max_concurrency = 256;     // probes in flight at once
  LogFormat log_format = LogFormat::logfmt;
  std::vector<CaBundleSource> ca_bundles;
  std::vector<TargetConfig> targets;
};

// what() is "FILE:LINE: message", or "FILE: message" when no line applies
// (the file cannot be read, the host name cannot be found).
class ConfigError : public std::runtime_error {
 public:
  ConfigError(std::string source, int line, std::string message);

  const std::string& source() const { return source_; }
  int line() const { return line_; }  // 1-based; 0: the file as a whole
  const std::string& message() const { return message_; }

 private:
  std::string source_;
  int line_;
  std::string message_;
};

// Reads, parses and validates the file at `path`; CA bundles are loaded too.
// Throws ConfigError.
Config load_config(const std::string& path);

// The same for text already in memory. `source` names it in messages, and
// relative CA bundle `file:` paths are taken relative to its directory.
Config parse_config(const std::string& yaml_text, const std::string& source);

}  // namespace meshprobe
