#include "agent/agent.h"

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>

#include <malloc.h>

#include <csignal>
#include <exception>
#include <map>
#include <ostream>
#include <system_error>
#include <thread>

#include "agent/file_watch.h"
#include "agent/http/http_server.h"
#include "agent/kube_refresh.h"
#include "agent/log.h"
#include "agent/results/metrics.h"
#include "agent/results/status_page.h"
#include "agent/results/store.h"
#include "agent/results/webhook_verdicts.h"
#include "agent/routes.h"
#include "agent/scheduler.h"
#include "agent/targets/expand.h"
#include "config/config.h"
#include "config/web_config.h"
#include "meshprobe_version.h"
#include "probes/prober.h"

namespace meshprobe {
namespace {

// An exec credential plugin's stderr (its own diagnostics, never the
// credential, which is on its stdout) becomes a log event of the agent's.
std::function<void(std::string_view)> plugin_stderr_to(Logger& log) {
  return [&log](std::string_view text) { log.warn("exec_plugin_stderr", {{"stderr", text}}); };
}

namespace asio = boost::asio;

// Reads a config the way a long-running agent should. yaml-cpp's tree of a
// large config is many times the file, and the config's own allocations
// land among its nodes: once it is freed, every page still holds a little
// of the config and none can go back to the kernel. Parsed on a thread of
// its own, the tree lives in that thread's malloc arena; the copy made here
// lives in this thread's, and the whole arena is returned once the tree and
// the first copy are gone (the README's performance section has the
// figures). Throws ConfigError.
Config load_config_compactly(const std::string& path) {
  CaBundle::prepare_openssl();  // its tables outlive the thread's arena
  Config compact;
  {
    Config parsed;
    std::exception_ptr failure;
    const auto parse = [&] {
      try {
        parsed = load_config(path);
      } catch (...) {
        failure = std::current_exception();
      }
    };
    try {
      std::thread(parse).join();
    } catch (const std::system_error&) {
      parse();  // no thread to be had: parse here, at the old memory cost
    }
    if (failure) std::rethrow_exception(failure);
    compact = parsed;
    for (TargetConfig& target : compact.targets) {
      target.target = std::make_shared<const Target>(*target.target);
    }
  }
  malloc_trim(0);
  return compact;
}

// The files a config depends on: itself, its CA bundle files, the web
// config and its TLS files (so a rotated certificate is served without a
// restart).
std::vector<std::string> watched_files(const Config& config, const WebConfig& web) {
  std::vector<std::string> files{config.source};
  for (const CaBundleSource& bundle : config.ca_bundles) {
    if (bundle.kind == CaSourceKind::file) files.push_back(bundle.file);
  }
  if (!web.source.empty()) files.push_back(web.source);
  if (web.tls) {
    for (const std::string* file :
         {&web.tls->cert_file, &web.tls->key_file, &web.tls->client_ca_file}) {
      if (!file->empty()) files.push_back(*file);
    }
  }
  return files;
}

std::string web_config_path(const AgentOptions& options, const Config& config) {
  return options.web_config_file.empty() ? config.web_config_file : options.web_config_file;
}

// The web config the agent runs with: none (plain HTTP, no auth) when no
// file is named. Throws ConfigError.
WebConfig load_endpoint_security(const AgentOptions& options, const Config& config) {
  const std::string path = web_config_path(options, config);
  return path.empty() ? WebConfig{} : load_web_config(path);
}

HttpServerOptions server_options(WebConfig web) {
  HttpServerOptions options;
  options.web = std::move(web);
  // The kubelet's probes carry no credentials; these answer "ok" or
  // "ready" and nothing else. (With TLS on they are still served over TLS.)
  options.paths_without_auth = {"/healthz", "/readyz", "/-/healthy", "/-/ready"};
  // Taken whether or not the lifecycle API is on, so that a POST without it
  // is told so (403) rather than 405.
  options.paths_with_post = {"/-/reload"};
  return options;
}

// What the start line says of the endpoint's protection; never the users.
std::string describe_auth(const WebConfig& web) {
  return web.requires_auth() ? "basic (" + std::to_string(web.basic_auth_users.size()) +
                                   (web.basic_auth_users.size() == 1 ? " user)" : " users)")
                             : "none";
}

class Agent {
 public:
  Agent(asio::io_context& io, Config config, WebConfig web, const AgentOptions& options,
        Logger& log, std::unique_ptr<KubeConnection> kube)
      : io_(io),
        options_(options),
        log_(log),
        config_(std::move(config)),
        listen_(options.listen.value_or(config_.listen)),
        identity_{config_.vantage, config_.node_name, MESHPROBE_VERSION, config_.source},
        prober_(io),
        metrics_(config_.vantage, config_.node_name),
        scheduler_(io, prober_, config_.node_name, config_.max_concurrency, scheduler_events()),
        web_(std::move(web)),
        routes_(store_, identity_),
        server_(
            io, listen_.host, listen_.port,
            [this](const HttpRequest& request) { return routes_(request); }, server_options(web_)),
        signals_(io, SIGHUP, SIGTERM, SIGINT),
        watch_(io, options.watch_interval,
               [this](const std::string& file) { reload(change_reason(file)); }) {
    routes_.add_metrics(probe_series_);
    if (options.enable_lifecycle) routes_.enable_reload([this] { return reload("/-/reload"); });
    if (kube) start_kubernetes(std::move(kube));
  }

  void start() {
    apply(config_);
    if (kube_) kube_->configure(config_);
    log_.info("agent_started", {{"version", MESHPROBE_VERSION},
                                {"listen", listen_.host + ":" + std::to_string(server_.port())},
                                {"tls", server_.tls() ? "on" : "off"},
                                {"auth", describe_auth(web_)},
                                {"config", config_.source},
                                {"vantage", config_.vantage},
                                {"node", config_.node_name},
                                {"targets", std::to_string(config_.targets.size())}});
    warn_about_plain_passwords();
    wait_for_signal();
    watch_.remember(watched_files(config_, web_));
    watch_.start();
  }

 private:
  SchedulerEvents scheduler_events() {
    SchedulerEvents events;
    events.round_done = [this](const std::string& target, std::vector<ProbeResult> results) {
      on_round(target, std::move(results));
    };
    events.round_skipped = [this](const std::string& target) { store_.record_skip(target); };
    events.started_late = [this](double seconds) { metrics_.observe_schedule_lateness(seconds); };
    events.in_flight_changed = [this](int probes) { metrics_.set_in_flight(probes); };
    return events;
  }

  void on_round(const std::string& target, std::vector<ProbeResult> results) {
    const TargetState* state = store_.find(target);
    if (state == nullptr) return;  // the target left the config meanwhile
    metrics_.observe_round(results);
    for (const ProbeResult& r : results) log_change_of_state(*state, r);
    store_.record_round(target, std::move(results));
  }

  // One line when an address starts failing or recovers; none per success.
  void log_change_of_state(const TargetState& state, const ProbeResult& r) {
    const auto previous = state.addresses.find(r.address);
    const bool first = previous == state.addresses.end();
    if (!r.success && (first || previous->second.last.success)) {
      log_.warn("probe_failing", {{"target", state.target->name},
                                  {"address", r.address},
                                  {"diagnosis", code(r.diagnosis)},
                                  {"message", r.message}});
    } else if (r.success && !first && !previous->second.last.success) {
      log_.info("probe_recovered", {{"target", state.target->name}, {"address", r.address}});
    }
  }

  // Targets as the cluster last described them (Kubernetes mode): the store
  // lists them all; the scheduler gets those that can be probed; those that
  // cannot (the Service is gone, no endpoints, the API refused a read) get
  // their verdict as a round of their own.
  void apply(const Config& next) {
    const std::vector<ExpandedTarget> expanded =
        expand_targets(next, kube_ ? kube_->snapshot() : nullptr);
    std::vector<TargetSpec> all;
    std::vector<TargetSpec> probed;
    for (const ExpandedTarget& target : expanded) {
      all.push_back(target.spec);
      if (!target.verdict && !target.pending) probed.push_back(target.spec);
    }
    store_.set_targets(all);
    scheduler_.set_targets(probed);
    metrics_.set_targets(static_cast<int>(all.size()));
    if (kube_) kube_->metrics().set_endpoints(expanded, config_.vantage, config_.node_name);
    for (const ExpandedTarget& target : expanded) {
      if (target.verdict) on_round(target.spec.target->name, {*target.verdict});
    }
  }

  void start_kubernetes(std::unique_ptr<KubeConnection> connection) {
    log_.info("kubernetes_connected", {{"credentials", connection->description()}});
    kube_ = std::make_unique<KubeRefresh>(io_, prober_, log_, std::move(connection),
                                          [this] { apply(config_); });
    routes_.add_metrics(kube_->metrics());
    webhook_verdicts_ = std::make_unique<WebhookVerdicts>(
        store_, kube_->status(), [refresh = kube_.get()] { return refresh->snapshot(); });
    routes_.add_metrics(*webhook_verdicts_);
    routes_.show_kubernetes(kube_->status(), *webhook_verdicts_);
  }

  // A reload that turns Kubernetes mode on connects now; one that changes
  // the connection itself needs a restart.
  void prepare_kubernetes(const Config& next) {
    if (!next.kubernetes.enabled) return;
    if (!kube_) {
      auto connection =
          KubeConnection::open(next.kubernetes, options_.kubeconfig, plugin_stderr_to(log_));
      if (!connection) {
        throw ConfigError(next.source, next.kubernetes.line,
                          "kubernetes: " + connection.error().message);
      }
      start_kubernetes(std::move(*connection));
      return;
    }
    const KubernetesConfig& now = config_.kubernetes;
    if (next.kubernetes.kubeconfig != now.kubeconfig || next.kubernetes.context != now.context ||
        next.kubernetes.request_timeout != now.request_timeout) {
      log_.warn("config_needs_restart", {{"key", "kubernetes"}});
    }
  }

  // Basic auth over plain HTTP sends passwords in the clear.
  void warn_about_plain_passwords() {
    if (web_.requires_auth() && !web_.tls) {
      log_.warn("basic_auth_without_tls",
                {{"web_config", web_.source},
                 {"remedy", "add tls_server_config: passwords cross the network in clear text"}});
    }
  }

  // Returns why the config was refused, or "" when it was applied.
  std::string reload(std::string_view reason) {
    std::string refused;
    try {
      Config next = load_config_compactly(options_.config_path);
      WebConfig web = load_endpoint_security(options_, next);
      warn_about_restart_only_changes(next);
      prepare_kubernetes(next);
      server_.set_web_config(web);
      const bool web_changed =
          web.source != web_.source || web.tls.has_value() != web_.tls.has_value();
      web_ = std::move(web);
      config_.web_config_file = next.web_config_file;
      if (web_changed) warn_about_plain_passwords();
      apply(next);
      // A reload (a changed CA bundle file among its reasons) re-verifies
      // every served chain in full before any session is resumed again.
      prober_.forget_tls_sessions();
      config_.targets = std::move(next.targets);
      config_.ca_bundles = std::move(next.ca_bundles);
      config_.kubernetes.enabled = next.kubernetes.enabled;
      config_.kubernetes.refresh = next.kubernetes.refresh;
      config_.kubernetes.hygiene = next.kubernetes.hygiene;
      config_.kubernetes.istio_namespace = next.kubernetes.istio_namespace;
      if (kube_) kube_->configure(config_);
      metrics_.record_config_reload(true);
      log_.info("config_reloaded",
                {{"reason", reason}, {"targets", std::to_string(config_.targets.size())}});
    } catch (const ConfigError& e) {
      metrics_.record_config_reload(false);
      log_.error("config_rejected",
                 {{"reason", reason}, {"error", e.what()}, {"keeping", "the last good config"}});
      refused = e.what();
      // Out of descriptors or memory: the files are not to blame, and the
      // watcher must try them again rather than wait for the next change.
      if (e.transient()) return refused;
    }
    watch_.remember(watched_files(config_, web_));
    // The old config and the forgotten sessions are freed by now; their
    // pages go back rather than wait under the new ones (bench/run.sh's
    // scale figures after a reload).
    malloc_trim(0);
    return refused;
  }

  // These settings shape the process itself; a reload cannot change them.
  void warn_about_restart_only_changes(const Config& next) {
    auto note = [&](std::string_view key, bool changed) {
      if (changed) log_.warn("config_needs_restart", {{"key", key}});
    };
    note("listen", !options_.listen && next.listen != config_.listen);
    note("vantage", next.vantage != config_.vantage);
    note("node_name", next.node_name != config_.node_name);
    note("max_concurrency", next.max_concurrency != config_.max_concurrency);
    if (next.log_format != config_.log_format) log_.set_format(next.log_format);
  }

  void wait_for_signal() {
    signals_.async_wait([this](boost::system::error_code ec, int signal) {
      if (ec) return;
      if (signal == SIGHUP) {
        reload("SIGHUP");
        wait_for_signal();
        return;
      }
      log_.info("agent_stopping", {{"signal", signal == SIGTERM ? "SIGTERM" : "SIGINT"}});
      stop();
    });
  }

  void stop() {
    scheduler_.stop();  // cancels probes in flight; the io_context drains
    if (kube_) kube_->stop();
    server_.stop();
    watch_.stop();
    signals_.cancel();
  }

  std::string_view change_reason(const std::string& file) const {
    if (file == config_.source) return "config file changed";
    if (file == web_.source) return "web config file changed";
    for (const CaBundleSource& bundle : config_.ca_bundles) {
      if (bundle.kind == CaSourceKind::file && bundle.file == file) {
        return "CA bundle file changed";
      }
    }
    return "TLS file changed";
  }

  asio::io_context& io_;
  const AgentOptions& options_;
  Logger& log_;
  Config config_;
  ListenAddress listen_;
  AgentIdentity identity_;
  Prober prober_;
  ResultsStore store_;
  Metrics metrics_;
  ProbeSeries probe_series_{metrics_, store_};
  Scheduler scheduler_;
  WebConfig web_;
  Routes routes_;
  HttpServer server_;
  asio::signal_set signals_;
  FileWatch watch_;
  std::unique_ptr<KubeRefresh> kube_;                  // Kubernetes mode only
  std::unique_ptr<WebhookVerdicts> webhook_verdicts_;  // with kube_
};

}  // namespace

int run_agent(const AgentOptions& options, std::ostream& log_stream) {
  // A /metrics answer of a large agent is megabytes. glibc would raise its
  // mmap threshold after the first one is freed and keep later ones on the
  // heap for good; a fixed threshold hands them back to the kernel, and two
  // arenas are plenty for one event loop plus the resolver threads (and a
  // config being parsed, see load_config_compactly).
  mallopt(M_MMAP_THRESHOLD, 1 << 20);
  mallopt(M_ARENA_MAX, 2);
  Logger log(LogFormat::logfmt, log_stream);
  Config config;
  try {
    config = load_config_compactly(options.config_path);
  } catch (const ConfigError& e) {
    log.error("config_rejected", {{"error", e.what()}});
    return 2;
  }
  log.set_format(config.log_format);

  WebConfig web;
  try {
    web = load_endpoint_security(options, config);
  } catch (const ConfigError& e) {
    log.error("config_rejected", {{"error", e.what()}});
    return 2;
  }

  // Credentials are loaded before anything starts: without them, Kubernetes
  // mode cannot do what the config asks.
  std::unique_ptr<KubeConnection> kube;
  if (config.kubernetes.enabled) {
    auto connection =
        KubeConnection::open(config.kubernetes, options.kubeconfig, plugin_stderr_to(log));
    if (!connection) {
      log.error("kubernetes_unavailable", {{"error", connection.error().message}});
      return 2;
    }
    kube = std::move(*connection);
  }

  asio::io_context io(1);
  std::unique_ptr<Agent> agent;
  try {
    agent = std::make_unique<Agent>(io, std::move(config), std::move(web), options, log,
                                    std::move(kube));
  } catch (const ConfigError& e) {  // a TLS file changed between loading and serving
    log.error("config_rejected", {{"error", e.what()}});
    return 2;
  } catch (const std::system_error& e) {
    log.error("listen_failed", {{"error", e.what()}});
    return 1;
  }
  agent->start();
  io.run();
  log.info("agent_stopped");
  return 0;
}

}  // namespace meshprobe
