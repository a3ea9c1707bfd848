// `meshprobe check`: one run of every target, a report, an exit code.
#pragma once

#include <chrono>
#include <iosfwd>
#include <optional>
#include <string>
#include <vector>

namespace meshprobe {

enum class OutputFormat { table, json };

inline constexpr std::chrono::milliseconds kDefaultWatchInterval{2000};

// --watch, --until-ok, --max-wait: probe again every interval until stopped.
struct WatchOptions {
  std::chrono::milliseconds interval = kDefaultWatchInterval;  // start to start
  // Stop (exit 0) at the first round where everything passes ...
  bool until_ok = false;
  // ... or (exit 1) when this much time has passed without one.
  std::optional<std::chrono::milliseconds> max_wait;
  // stdout is a terminal: redraw the table in place rather than print lines.
  bool terminal = false;
};

struct CheckOptions {
  // Targets: the config file's, then the URLs. Neither: the built-in istiod
  // set (with a Kubernetes connection, the Kubernetes-aware one).
  std::string config_path;
  std::vector<std::string> target_urls;
  std::string revision;  // for the built-in set
  // Kubernetes: a kubeconfig (overrides the config's kubernetes.kubeconfig);
  // given alone, it turns on the Kubernetes built-in set and the hygiene checks.
  std::string kubeconfig;
  // Apply to the URLs and the built-in set; config targets keep their own.
  std::string ca_file;
  std::string server_name;
  // --timeout: every target's budget, config targets' too. Unset: each
  // target's own (kDefaultProbeTimeout for URLs and the built-in sets).
  std::optional<std::chrono::milliseconds> timeout;
  std::string vantage = "local";
  bool vantage_given = false;  // --vantage was given: it wins over the config's
  OutputFormat output = OutputFormat::table;
  bool color = false;
  std::optional<WatchOptions> watch;  // unset: one round
  // The Kubernetes built-in set's admission targets run in this namespace
  // when it exists; --create-canary creates and labels it (the user's
  // credentials, only when asked).
  std::string canary_namespace = "meshprobe-canary";
  bool create_canary = false;
};

inline constexpr int kExitAllOk = 0;
inline constexpr int kExitSomeFailed = 1;
inline constexpr int kExitUsage = 2;

// Exit 0: every probe passed and (in Kubernetes mode) no hygiene finding;
// 1: a probe failed, a finding, or a hygiene check could not run; 2: bad
// usage, a bad config, or Kubernetes credentials that cannot be loaded.
// With `watch`: see run_watch (agent/check_watch.h).
int run_check(const CheckOptions& options, std::ostream& out, std::ostream& err);

}  // namespace meshprobe
