// meshprobe: reachability and trust checks for istiod's webhook and xDS ports.
#include <CLI/CLI.hpp>
#include <unistd.h>

#include <cstdlib>
#include <iostream>

#include "agent/agent.h"
#include "agent/check_command.h"
#include "config/config.h"
#include "config/duration.h"
#include "config/listen_address.h"
#include "config/web_config.h"
#include "meshprobe_version.h"

namespace {

bool stdout_wants_color(const std::string& mode) {
  if (mode == "always") return true;
  if (mode == "never") return false;
  return isatty(STDOUT_FILENO) == 1 && std::getenv("NO_COLOR") == nullptr;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"meshprobe: TCP/TLS reachability and trust checks for Istio's istiod"};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string("meshprobe ") + MESHPROBE_VERSION);

  meshprobe::CheckOptions check;
  std::string timeout_text = "3s";
  std::string output = "table";
  std::string color = "auto";
  CLI::App* check_cmd = app.add_subcommand(
      "check", "Probe every target once and report (exit 0 all ok, 1 some failed, 2 bad usage)");
  check_cmd->add_option("--config,-c", check.config_path,
                        "Probe the targets of this YAML config (as the agent would), once");
  check_cmd->add_option("--kubeconfig", check.kubeconfig,
                        "Kubernetes credentials (overrides kubernetes.kubeconfig); alone, it probes "
                        "istiod's endpoints with the webhook's caBundle, the webhook through the "
                        "API server, and runs the webhook hygiene checks");
  check_cmd->add_option("--target", check.target_urls,
                        "Target URL: tcp://HOST:PORT, tls://HOST:PORT, https://HOST:PORT/PATH, "
                        "grpc://HOST:PORT (repeatable; default: istiod's webhook and xDS ports)");
  check_cmd->add_option("targets", check.target_urls, "Target URLs, as for --target");
  check_cmd->add_option("--revision", check.revision,
                        "Istio revision for the built-in targets (istiod-REV.istio-system.svc)");
  check_cmd->add_option("--ca-file", check.ca_file,
                        "PEM CA bundle to verify TLS targets against (default: the system store)");
  check_cmd->add_option("--server-name", check.server_name,
                        "SNI and expected certificate name (default: the URL's host)");
  CLI::Option* timeout_option =
      check_cmd->add_option("--timeout", timeout_text, "Time budget per probe, e.g. 3s, 500ms")
          ->capture_default_str();
  CLI::Option* vantage_option =
      check_cmd->add_option("--vantage", check.vantage, "Vantage label for the results")
          ->capture_default_str();
  check_cmd->add_option("--output,-o", output, "table or json")
      ->check(CLI::IsMember({"table", "json"}))
      ->capture_default_str();
  check_cmd->add_option("--color", color, "auto, always or never")
      ->check(CLI::IsMember({"auto", "always", "never"}))
      ->capture_default_str();

  std::string agent_config;
  std::string agent_listen;
  CLI::App* agent_cmd = app.add_subcommand(
      "agent", "Probe every target on schedule and serve /metrics, /status, / (runs until SIGTERM)");
  agent_cmd->add_option("--config,-c", agent_config, "The YAML config file")->required();
  agent_cmd->add_option("--listen", agent_listen,
                        "ADDR:PORT to serve on, overriding the config's listen (default "
                        "0.0.0.0:9717: every interface, for Prometheus on other hosts)");
  std::string agent_web_config;
  agent_cmd->add_option("--web.config.file", agent_web_config,
                        "TLS and basic auth for the endpoint: a Prometheus exporter web config "
                        "(tls_server_config, basic_auth_users), overriding web_config_file");
  std::string agent_kubeconfig;
  agent_cmd->add_option("--kubeconfig", agent_kubeconfig,
                        "Kubernetes credentials, overriding kubernetes.kubeconfig (default: the "
                        "pod's service account)");

  std::string validate_file;
  CLI::App* validate_cmd = app.add_subcommand(
      "validate", "Check a config file only (exit 0, or 2 with FILE:LINE: message)");
  validate_cmd->add_option("file", validate_file, "The YAML config file")->required();

  CLI::App* version_cmd = app.add_subcommand("version", "Print the version");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e);
    return rc == 0 ? 0 : meshprobe::kExitUsage;
  }

  if (version_cmd->parsed()) {
    std::cout << "meshprobe " << MESHPROBE_VERSION << "\n";
    return 0;
  }
  if (validate_cmd->parsed()) {
    try {
      const meshprobe::Config config = meshprobe::load_config(validate_file);
      if (!config.web_config_file.empty()) meshprobe::load_web_config(config.web_config_file);
      std::cout << validate_file << ": ok (" << config.targets.size() << " targets)\n";
      return 0;
    } catch (const meshprobe::ConfigError& e) {
      std::cerr << e.what() << "\n";
      return meshprobe::kExitUsage;
    }
  }

  if (agent_cmd->parsed()) {
    meshprobe::AgentOptions options;
    options.config_path = agent_config;
    options.kubeconfig = agent_kubeconfig;
    options.web_config_file = agent_web_config;
    if (!agent_listen.empty()) {
      auto listen = meshprobe::parse_listen_address(agent_listen);
      if (!listen) {
        std::cerr << "meshprobe agent: --listen: " << listen.error().message << "\n";
        return meshprobe::kExitUsage;
      }
      options.listen = *listen;
    }
    return meshprobe::run_agent(options, std::cerr);
  }

  auto timeout = meshprobe::parse_duration(timeout_text);
  if (!timeout) {
    std::cerr << "meshprobe check: --timeout: " << timeout.error().message << "\n";
    return meshprobe::kExitUsage;
  }
  check.timeout = *timeout;
  check.timeout_given = timeout_option->count() > 0;
  check.vantage_given = vantage_option->count() > 0;
  check.output = output == "json" ? meshprobe::OutputFormat::json
                                  : meshprobe::OutputFormat::table;
  check.color = stdout_wants_color(color);
  return meshprobe::run_check(check, std::cout, std::cerr);
}
