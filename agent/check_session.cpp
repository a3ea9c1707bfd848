#include "agent/check_session.h"

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include <algorithm>
#include <optional>

#include "agent/check_canary.h"
#include "agent/results/check_report.h"
#include "agent/targets/builtin.h"
#include "agent/targets/expand.h"
#include "config/config.h"
#include "kube/connection.h"
#include "kube/hygiene_run.h"
#include "kube/webhook_facts.h"
#include "probes/ca_bundle.h"
#include "probes/prober.h"

namespace meshprobe {
namespace {

// Adds the command line's targets (or the built-in set) to `config`.
std::optional<Error> add_command_line_targets(const CheckOptions& options, bool builtins,
                                              Config& config) {
  std::shared_ptr<const CaBundle> ca;
  if (!options.ca_file.empty()) {
    auto bundle = CaBundle::from_file(options.ca_file);
    if (!bundle) return Error{"meshprobe check: " + bundle.error().message};
    ca = *bundle;
  }

  std::vector<Target> targets;
  if (builtins) targets = istiod_targets(options.revision);
  for (const std::string& url : options.target_urls) {
    auto target = parse_target_url(url);
    if (!target) return Error{"meshprobe check: " + target.error().message};
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
  return std::nullopt;
}

// --kubeconfig alone: the Kubernetes-aware built-in set.
bool kubernetes_builtins(const CheckOptions& options) {
  return options.config_path.empty() && options.target_urls.empty() && !options.kubeconfig.empty();
}

// The targets and settings of this run. `discovery_address`: the mesh
// config's, for the Kubernetes built-in set's xDS target.
Expected<Config> run_config(const CheckOptions& options,
                            const std::string& discovery_address = "") {
  Config config;
  try {
    if (!options.config_path.empty()) {
      config = load_config(options.config_path);
    } else if (kubernetes_builtins(options)) {
      config = parse_config(kubernetes_builtin_config(options.revision, "istio-system",
                                                      options.canary_namespace, discovery_address),
                            "built-in Kubernetes targets");
    }
  } catch (const ConfigError& e) {
    return Error{e.what()};
  }
  const bool builtins =
      options.config_path.empty() && options.target_urls.empty() && !kubernetes_builtins(options);
  if (auto error = add_command_line_targets(options, builtins, config)) return *error;
  if (!options.kubeconfig.empty()) config.kubernetes.enabled = true;
  return config;
}

// What a round in flight gathers until its last probe (and the hygiene
// checks) have answered.
struct RoundInFlight {
  CheckRound round;
  std::vector<std::vector<ProbeResult>> per_target;
  std::size_t pending = 0;
  std::function<void(CheckRound)> done;
  // Kubernetes mode: what the round read, for the webhook verdicts.
  std::shared_ptr<const KubeSnapshot> snapshot;

  void one_done() {
    if (--pending > 0) return;
    // Report in the order the targets were given, whatever order they finished.
    for (auto& batch : per_target) {
      std::move(batch.begin(), batch.end(), std::back_inserter(round.results));
    }
    if (snapshot && round.hygiene.ran) {
      round.hygiene.verdicts = kube::webhook_verdicts(*snapshot, round.results, round.hygiene);
    }
    auto finish = std::move(done);
    finish(std::move(round));
  }
};

}  // namespace

bool CheckRound::passed() const {
  const bool all_ok =
      std::all_of(results.begin(), results.end(), [](const ProbeResult& r) { return r.success; });
  const bool hygiene_ok = hygiene.findings.empty() && hygiene.incomplete_checks.empty();
  // A broken verdict with every probe passing and no finding rests on the
  // API server's own failed calls (the observed FailedCreate events).
  const bool verdicts_ok =
      std::none_of(hygiene.verdicts.begin(), hygiene.verdicts.end(),
                   [](const kube::WebhookVerdict& v) { return v.diagnosis != Diagnosis::ok; });
  return all_ok && hygiene_ok && verdicts_ok;
}

struct CheckSession::Impl {
  boost::asio::io_context& io;
  Config config;
  Overrides overrides;
  std::chrono::milliseconds hygiene_timeout;
  std::string vantage;
  // The connection before the prober: the prober's delegate uses it.
  std::unique_ptr<KubeConnection> kube;
  Prober prober;
  std::vector<ProbeHandle> in_flight;

  Impl(boost::asio::io_context& context, Config loaded, const CheckOptions& options,
       std::unique_ptr<KubeConnection> connection)
      : io(context),
        config(std::move(loaded)),
        overrides{options.timeout},
        hygiene_timeout(options.timeout.value_or(kDefaultProbeTimeout)),
        vantage(options.vantage_given || options.config_path.empty() ? options.vantage
                                                                     : config.vantage),
        kube(std::move(connection)),
        prober(context) {
    if (kube) kube->register_delegates(prober, io);
  }
};

Expected<std::unique_ptr<CheckSession>> CheckSession::open(const CheckOptions& options,
                                                           boost::asio::io_context& io,
                                                           std::ostream& err) {
  auto config = run_config(options);
  if (!config) return config.error();
  std::unique_ptr<KubeConnection> kube;
  if (config->kubernetes.enabled) {
    auto connection = KubeConnection::open(config->kubernetes, options.kubeconfig);
    if (!connection) return Error{"meshprobe check: " + connection.error().message};
    kube = std::move(*connection);
  }
  // The built-in set probes the discovery address the sidecars are given,
  // read once here (a --watch keeps it; the hygiene reads it every round).
  if (kube && kubernetes_builtins(options)) {
    auto discovery = kube->mesh_discovery(config->kubernetes.istio_namespace, options.revision);
    if (!discovery) {
      err << "meshprobe check: the mesh config's discovery address could not be read ("
          << discovery.error().message << "): probing istiod's xDS port\n";
    } else if (discovery->configured) {
      auto with_discovery = run_config(options, discovery->address);
      if (!with_discovery) return with_discovery.error();
      config = std::move(with_discovery);
    }
  }
  // The built-in set's admission targets need their canary namespace; a
  // config's own admission targets are run as written.
  if (kube && kubernetes_builtins(options) &&
      prepare_canary(*kube, {options.canary_namespace, options.create_canary, options.revision},
                     err)
          .empty()) {
    std::erase_if(config->targets,
                  [](const TargetConfig& tc) { return tc.admission != Admission::none; });
  }
  return std::unique_ptr<CheckSession>(
      new CheckSession(std::make_unique<Impl>(io, std::move(*config), options, std::move(kube))));
}

CheckSession::CheckSession(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

CheckSession::~CheckSession() = default;

const std::string& CheckSession::vantage() const { return impl_->vantage; }

void CheckSession::start_round(std::function<void(CheckRound)> done) {
  Impl& s = *impl_;
  s.in_flight.clear();
  auto flight = std::make_shared<RoundInFlight>();
  flight->round.started_at = WallClock::now();
  flight->done = std::move(done);

  std::optional<KubeSnapshot> snapshot;
  if (s.kube) snapshot = s.kube->read(s.config);
  const std::vector<ExpandedTarget> targets =
      expand_targets(s.config, snapshot ? &*snapshot : nullptr, s.overrides);
  flight->per_target.resize(targets.size());
  // One for each target and the hygiene run, and one held until every probe
  // has started, so that nothing finishes the round while it is set up.
  flight->pending = targets.size() + (snapshot ? 1 : 0) + 1;

  for (std::size_t i = 0; i < targets.size(); ++i) {
    if (targets[i].verdict) {
      flight->per_target[i] = {*targets[i].verdict};
      --flight->pending;
      continue;
    }
    s.in_flight.push_back(
        s.prober.probe(targets[i].spec.target, [flight, i](std::vector<ProbeResult> results) {
          flight->per_target[i] = std::move(results);
          flight->one_done();
        }));
  }
  if (snapshot) {
    // The snapshot goes with the run: the CA-mismatch probes read it.
    auto kept = std::make_shared<const KubeSnapshot>(std::move(*snapshot));
    flight->snapshot = kept;
    auto handles =
        run_hygiene(s.prober, *kept, s.hygiene_timeout, [flight, kept](HygieneReport report) {
          flight->round.hygiene = std::move(report);
          flight->one_done();
        });
    s.in_flight.insert(s.in_flight.end(), handles.begin(), handles.end());
  }
  // The set-up's own share: posted, so `done` never runs inside this call.
  boost::asio::post(s.io, [flight] { flight->one_done(); });
}

void CheckSession::cancel_round() {
  for (const ProbeHandle& handle : impl_->in_flight) handle.cancel();
  impl_->in_flight.clear();
}

CheckRound CheckSession::run_round() {
  CheckRound finished;
  start_round([&finished](CheckRound round) { finished = std::move(round); });
  impl_->io.run();
  impl_->io.restart();
  return finished;
}

std::string render_check_report(const CheckRound& round, std::string_view vantage,
                                const CheckOptions& options) {
  if (options.output == OutputFormat::json) {
    return render_json(round.results, vantage, round.shown_hygiene());
  }
  return render_table(round.results, vantage, options.color, round.shown_hygiene());
}

}  // namespace meshprobe
