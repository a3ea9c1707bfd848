#include "agent/check_command.h"

#include <boost/asio/io_context.hpp>

#include <algorithm>
#include <optional>
#include <ostream>

#include "agent/results/check_report.h"
#include "agent/targets/builtin.h"
#include "agent/targets/expand.h"
#include "config/config.h"
#include "kube/connection.h"
#include "kube/hygiene_run.h"
#include "probes/ca_bundle.h"
#include "probes/prober.h"

namespace meshprobe {
namespace {

// Adds the command line's targets (or the built-in set) to `config`; false
// (with a message on `err`) on bad input.
bool add_command_line_targets(const CheckOptions& options, bool builtins, std::ostream& err,
                              Config& config) {
  std::shared_ptr<const CaBundle> ca;
  if (!options.ca_file.empty()) {
    auto bundle = CaBundle::from_file(options.ca_file);
    if (!bundle) {
      err << "meshprobe check: " << bundle.error().message << "\n";
      return false;
    }
    ca = *bundle;
  }

  std::vector<Target> targets;
  if (builtins) targets = istiod_targets(options.revision);
  for (const std::string& url : options.target_urls) {
    auto target = parse_target_url(url);
    if (!target) {
      err << "meshprobe check: " << target.error().message << "\n";
      return false;
    }
    targets.push_back(std::move(*target));
  }

  for (Target& target : targets) {
    target.ca = ca;
    if (!options.server_name.empty()) target.server_name = options.server_name;
    TargetConfig tc;
    tc.target = std::make_shared<const Target>(std::move(target));
    tc.explicit_server_name = !options.server_name.empty();
    config.targets.push_back(std::move(tc));
  }
  return true;
}

// The targets and settings of this run; nullopt after a message on `err`.
std::optional<Config> run_config(const CheckOptions& options, std::ostream& err) {
  Config config;
  const bool kubernetes_builtins =
      options.config_path.empty() && options.target_urls.empty() && !options.kubeconfig.empty();
  try {
    if (!options.config_path.empty()) {
      config = load_config(options.config_path);
    } else if (kubernetes_builtins) {
      config =
          parse_config(kubernetes_builtin_config(options.revision), "built-in Kubernetes targets");
    }
  } catch (const ConfigError& e) {
    err << e.what() << "\n";
    return std::nullopt;
  }
  const bool builtins =
      options.config_path.empty() && options.target_urls.empty() && !kubernetes_builtins;
  if (!add_command_line_targets(options, builtins, err, config)) return std::nullopt;
  if (!options.kubeconfig.empty()) config.kubernetes.enabled = true;
  return config;
}

}  // namespace

int run_check(const CheckOptions& options, std::ostream& out, std::ostream& err) {
  if (options.timeout && *options.timeout <= std::chrono::milliseconds::zero()) {
    err << "meshprobe check: --timeout must be positive\n";
    return kExitUsage;
  }
  const std::optional<Config> config = run_config(options, err);
  if (!config) return kExitUsage;
  const std::string vantage =
      options.vantage_given || options.config_path.empty() ? options.vantage : config->vantage;

  // Declared before the connection: its workers hand results to `io`.
  boost::asio::io_context io;
  std::unique_ptr<KubeConnection> kube;
  std::optional<KubeSnapshot> snapshot;
  if (config->kubernetes.enabled) {
    auto connection = KubeConnection::open(config->kubernetes, options.kubeconfig);
    if (!connection) {
      err << "meshprobe check: " << connection.error().message << "\n";
      return kExitUsage;
    }
    kube = std::move(*connection);
    snapshot = kube->read(*config);
  }

  const std::vector<ExpandedTarget> targets =
      expand_targets(*config, snapshot ? &*snapshot : nullptr, Overrides{options.timeout});
  std::vector<std::vector<ProbeResult>> per_target(targets.size());
  HygieneReport hygiene;
  {
    Prober prober(io);
    if (kube) kube->register_delegates(prober, io);
    for (std::size_t i = 0; i < targets.size(); ++i) {
      if (targets[i].verdict) {
        per_target[i] = {*targets[i].verdict};
        continue;
      }
      prober.probe(targets[i].spec.target, [&per_target, i](std::vector<ProbeResult> results) {
        per_target[i] = std::move(results);
      });
    }
    if (snapshot) {
      run_hygiene(prober, *snapshot, options.timeout.value_or(kDefaultProbeTimeout),
                  [&hygiene](HygieneReport report) { hygiene = std::move(report); });
    }
    io.run();
  }

  // Report in the order the targets were given, whatever order they finished.
  std::vector<ProbeResult> results;
  for (auto& batch : per_target) {
    std::move(batch.begin(), batch.end(), std::back_inserter(results));
  }
  const HygieneReport* shown = hygiene.ran ? &hygiene : nullptr;
  if (options.output == OutputFormat::json) {
    out << render_json(results, vantage, shown);
  } else {
    out << render_table(results, vantage, options.color, shown);
  }
  const bool all_ok =
      std::all_of(results.begin(), results.end(), [](const ProbeResult& r) { return r.success; });
  const bool hygiene_ok = hygiene.findings.empty() && hygiene.incomplete_checks.empty();
  return all_ok && hygiene_ok ? kExitAllOk : kExitSomeFailed;
}

}  // namespace meshprobe
