// meshprobe: reachability and trust checks for istiod's webhook and xDS ports.
// The command line: five sub-commands, each parsed into its options and
// handed to the code that runs it.
#include <CLI/CLI.hpp>

#include <unistd.h>

#include <cstdlib>
#include <iostream>

#include "agent/agent.h"
#include "agent/check_command.h"
#include "agent/explain.h"
#include "config/config.h"
#include "config/duration.h"
#include "config/listen_address.h"
#include "config/web_config.h"
#include "meshprobe_version.h"

namespace {

using meshprobe::kExitUsage;

bool stdout_wants_color(const std::string& mode) {
  if (mode == "always") return true;
  if (mode == "never") return false;
  return isatty(STDOUT_FILENO) == 1 && std::getenv("NO_COLOR") == nullptr;
}

// `check`: the options as typed, turned into CheckOptions once parsed.
struct CheckCommand {
  CLI::App* command = nullptr;
  meshprobe::CheckOptions options;
  std::string timeout;
  std::string output = "table";
  std::string color = "auto";
  std::string watch;
  bool until_ok = false;
  std::string max_wait;
  CLI::Option* timeout_option = nullptr;
  CLI::Option* vantage_option = nullptr;
  CLI::Option* watch_option = nullptr;
  CLI::Option* max_wait_option = nullptr;

  explicit CheckCommand(CLI::App& app) {
    command = app.add_subcommand(
        "check",
        "Probe every target once (or --watch: again and again) and report (exit 0 all ok, 1 some "
        "failed, 2 bad usage)");
    command->add_option("--config,-c", options.config_path,
                        "Probe the targets of this YAML config (as the agent would), once");
    command->add_option(
        "--kubeconfig", options.kubeconfig,
        "Kubernetes credentials (overrides kubernetes.kubeconfig); alone, it probes "
        "istiod's endpoints with the webhook's caBundle, the webhook through the "
        "API server, and runs the webhook hygiene checks");
    command->add_option("--target", options.target_urls,
                        "Target URL: tcp://HOST:PORT, tls://HOST:PORT, https://HOST:PORT/PATH, "
                        "grpc://HOST:PORT (repeatable; default: istiod's webhook and xDS ports)");
    command->add_option("targets", options.target_urls, "Target URLs, as for --target");
    command->add_option("--revision", options.revision,
                        "Istio revision for the built-in targets (istiod-REV.istio-system.svc)");
    command
        ->add_option("--canary-namespace", options.canary_namespace,
                     "With --kubeconfig alone: where the admission probes dry-run a pod and an "
                     "invalid Gateway (it must exist, labelled for injection)")
        ->capture_default_str();
    command->add_flag("--create-canary", options.create_canary,
                      "Create the canary namespace, labelled for injection (istio.io/rev=REV with "
                      "--revision), when it does not exist");
    command->add_option("--ca-file", options.ca_file,
                        "PEM CA bundle to verify TLS targets against (default: the system store)");
    command->add_option("--server-name", options.server_name,
                        "SNI and expected certificate name (default: the URL's host)");
    timeout_option =
        command->add_option("--timeout", timeout,
                            "Time budget per probe, e.g. 3s, 500ms (default: the config's, else " +
                                meshprobe::format_duration(meshprobe::kDefaultProbeTimeout) + ")");
    vantage_option =
        command->add_option("--vantage", options.vantage, "Vantage label for the results")
            ->capture_default_str();
    command->add_option("--output,-o", output, "table or json")
        ->check(CLI::IsMember({"table", "json"}))
        ->capture_default_str();
    command->add_option("--color", color, "auto, always or never")
        ->check(CLI::IsMember({"auto", "always", "never"}))
        ->capture_default_str();
    // A flag, not an option with an optional value: `--watch tcp://...`
    // must not take the URL for the interval, so a value is only --watch=1s.
    watch_option = command->add_flag(
        "--watch{" + meshprobe::format_duration(meshprobe::kDefaultWatchInterval) + "}", watch,
        "Probe again every interval until Ctrl-C (--watch=500ms, --watch=1m; default " +
            meshprobe::format_duration(meshprobe::kDefaultWatchInterval) +
            "): the table redrawn on a terminal, a line per change");
    command->add_flag("--until-ok", until_ok,
                      "Watch until every target passes, then exit 0 (implies --watch)");
    max_wait_option = command->add_option(
        "--max-wait", max_wait, "With --until-ok: exit 1 if not every target passes by then");
  }

  // --watch, --until-ok and --max-wait as WatchOptions; false after a usage
  // error on stderr.
  bool parse_watch() {
    if (watch_option->count() == 0 && !until_ok && max_wait_option->count() == 0) return true;
    meshprobe::WatchOptions parsed;
    if (watch_option->count() > 0) {
      auto interval = meshprobe::parse_duration(watch);
      if (!interval) {
        std::cerr << "meshprobe check: --watch: " << interval.error().message << "\n";
        return false;
      }
      parsed.interval = *interval;
      // `--watch 1s` left "1s" among the targets.
      for (const std::string& url : options.target_urls) {
        if (meshprobe::parse_duration(url)) {
          std::cerr << "meshprobe check: \"" << url
                    << "\" is not a target; an interval is written --watch=" << url << "\n";
          return false;
        }
      }
    }
    parsed.until_ok = until_ok;
    if (max_wait_option->count() > 0) {
      auto bound = meshprobe::parse_duration(max_wait);
      if (!bound) {
        std::cerr << "meshprobe check: --max-wait: " << bound.error().message << "\n";
        return false;
      }
      parsed.max_wait = *bound;
    }
    parsed.terminal = isatty(STDOUT_FILENO) == 1;
    options.watch = parsed;
    return true;
  }

  int run() {
    if (timeout_option->count() > 0) {
      auto parsed = meshprobe::parse_duration(timeout);
      if (!parsed) {
        std::cerr << "meshprobe check: --timeout: " << parsed.error().message << "\n";
        return kExitUsage;
      }
      options.timeout = *parsed;
    }
    if (!parse_watch()) return kExitUsage;
    options.vantage_given = vantage_option->count() > 0;
    options.output =
        output == "json" ? meshprobe::OutputFormat::json : meshprobe::OutputFormat::table;
    options.color = stdout_wants_color(color);
    return meshprobe::run_check(options, std::cout, std::cerr);
  }
};

struct AgentCommand {
  CLI::App* command = nullptr;
  meshprobe::AgentOptions options;
  std::string listen;

  explicit AgentCommand(CLI::App& app) {
    command = app.add_subcommand(
        "agent",
        "Probe every target on schedule and serve /metrics, /status, / (runs until SIGTERM)");
    command->add_option("--config,-c", options.config_path, "The YAML config file")->required();
    command->add_option("--listen", listen,
                        "ADDR:PORT to serve on, overriding the config's listen (default "
                        "0.0.0.0:9717: every interface, for Prometheus on other hosts)");
    command->add_option("--web.config.file", options.web_config_file,
                        "TLS and basic auth for the endpoint: a Prometheus exporter web config "
                        "(tls_server_config, basic_auth_users), overriding web_config_file");
    command->add_option("--kubeconfig", options.kubeconfig,
                        "Kubernetes credentials, overriding kubernetes.kubeconfig (default: the "
                        "pod's service account)");
    command->add_flag("--web.enable-lifecycle", options.enable_lifecycle,
                      "Reload the config on POST /-/reload (as Prometheus's flag of that name)");
  }

  int run() {
    if (!listen.empty()) {
      auto address = meshprobe::parse_listen_address(listen);
      if (!address) {
        std::cerr << "meshprobe agent: --listen: " << address.error().message << "\n";
        return kExitUsage;
      }
      options.listen = *address;
    }
    return meshprobe::run_agent(options, std::cerr);
  }
};

struct ValidateCommand {
  CLI::App* command = nullptr;
  std::string file;

  explicit ValidateCommand(CLI::App& app) {
    command = app.add_subcommand("validate",
                                 "Check a config file only (exit 0, or 2 with FILE:LINE: message)");
    command->add_option("file", file, "The YAML config file")->required();
  }

  int run() const {
    try {
      const meshprobe::Config config = meshprobe::load_config(file);
      if (!config.web_config_file.empty()) meshprobe::load_web_config(config.web_config_file);
      std::cout << file << ": ok (" << config.targets.size() << " targets)\n";
      return 0;
    } catch (const meshprobe::ConfigError& e) {
      std::cerr << e.what() << "\n";
      return kExitUsage;
    }
  }
};

// `explain`: an error as the user saw it, matched to the guide's rows.
struct ExplainCommand {
  CLI::App* command = nullptr;
  std::vector<std::string> words;
  std::string output = "table";
  meshprobe::ExplainCheckOptions cluster;

  explicit ExplainCommand(CLI::App& app) {
    command = app.add_subcommand(
        "explain",
        "Match an error as you saw it (kubectl, an event, an Envoy or pilot-agent log line) to "
        "its cause, remedy, hop and the check to run (exit 0 recognised, 1 not; with "
        "--kubeconfig: 0 recognised and every check passed, 3 recognised and a check failed, "
        "2 bad credentials)");
    command->add_option("text", words, "The error text (several words are joined), or - for stdin")
        ->required();
    command->add_option("--output,-o", output, "table or json")
        ->check(CLI::IsMember({"table", "json"}))
        ->capture_default_str();
    auto* kubeconfig = command->add_option(
        "--kubeconfig", cluster.kubeconfig,
        "Run the checks against this cluster (check --kubeconfig's built-in set and the hygiene) "
        "and print the verdict after the explanation");
    command
        ->add_option("--revision", cluster.revision,
                     "With --kubeconfig: the Istio revision to check (default: the one the "
                     "webhook error names)")
        ->needs(kubeconfig);
  }

  int run() const {
    std::string text;
    if (words.size() == 1 && words.front() == "-") {
      text.resize(meshprobe::kExplainInputLimit + 1);
      std::cin.read(text.data(), static_cast<std::streamsize>(text.size()));
      text.resize(static_cast<std::size_t>(std::cin.gcount()));
      if (text.size() > meshprobe::kExplainInputLimit) {
        std::cerr << "meshprobe explain: standard input is over " << meshprobe::kExplainInputLimit
                  << " bytes\n";
        return kExitUsage;
      }
    } else {
      for (const std::string& word : words) text += (text.empty() ? "" : " ") + word;
    }
    const auto format =
        output == "json" ? meshprobe::OutputFormat::json : meshprobe::OutputFormat::table;
    if (!cluster.kubeconfig.empty()) {
      return meshprobe::explain_and_check(meshprobe::explain(text), cluster, format, std::cout,
                                          std::cerr);
    }
    return meshprobe::print_explanation(meshprobe::explain(text), format, std::cout);
  }
};

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"meshprobe: TCP/TLS reachability and trust checks for Istio's istiod"};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string("meshprobe ") + MESHPROBE_VERSION);
  CheckCommand check(app);
  AgentCommand agent(app);
  ValidateCommand validate(app);
  ExplainCommand explain(app);
  CLI::App* version = app.add_subcommand("version", "Print the version");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e);
    return rc == 0 ? 0 : kExitUsage;
  }
  if (version->parsed()) {
    std::cout << "meshprobe " << MESHPROBE_VERSION << "\n";
    return 0;
  }
  if (validate.command->parsed()) return validate.run();
  if (agent.command->parsed()) return agent.run();
  if (explain.command->parsed()) return explain.run();
  return check.run();
}
