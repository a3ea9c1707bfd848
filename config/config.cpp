// The agent config's entry points, and the parser's top level: the order
// the sections are read in, the settings, `defaults` and the `kubernetes`
// section. CA bundles are read in bundles.cpp, targets in targets.cpp.
#include "config/config.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <optional>

#include "config/duration.h"
#include "config/parser.h"
#include "config/yaml_guard.h"

namespace meshprobe {

ConfigError::ConfigError(std::string source, int line, std::string message, int system_error)
    : std::runtime_error(source + (line > 0 ? ":" + std::to_string(line) : "") + ": " + message),
      source_(std::move(source)),
      line_(line),
      message_(std::move(message)),
      system_error_(system_error) {}

bool ConfigError::transient() const {
  switch (system_error_) {
    case EMFILE:
    case ENFILE:
    case ENOMEM:
    case ENOBUFS:
    case EAGAIN:
    case EINTR: return true;
    default: return false;
  }
}

namespace config_parser {
namespace {

// ---- The schema of the top level -------------------------------------------
// Every map's known keys. Anything else is refused, so that a config written
// for a newer meshprobe fails loudly on an older one. The CA bundles' keys
// are in bundles.cpp, the targets' in targets.cpp.

constexpr std::string_view kTopLevelKeys[] = {
    "listen", "vantage",  "node_name",  "node_name_env", "max_concurrency", "web_config_file",
    "log",    "defaults", "kubernetes", "ca_bundles",    "targets"};
constexpr std::string_view kKubernetesKeys[] = {"kubeconfig",      "context", "refresh",
                                                "request_timeout", "hygiene", "istio_namespace",
                                                "revision"};
constexpr std::string_view kLogKeys[] = {"format"};
constexpr std::string_view kDefaultsKeys[] = {"interval", "timeout", "expiry_warning_days",
                                              "full_verify_interval"};

// The shortest refresh: every refresh lists webhook configurations,
// namespaces and Services, so a fleet of agents must not poll much faster.
constexpr milliseconds kMinRefresh{1000};

struct LogFormatName {
  std::string_view name;
  LogFormat format;
};
constexpr LogFormatName kLogFormats[] = {
    {"logfmt", LogFormat::logfmt},
    {"json", LogFormat::json},
};

constexpr IntRange kConcurrencyRange{1, 100'000};

std::optional<std::string> host_name() {
  char name[256] = {};
  if (gethostname(name, sizeof name - 1) != 0) return std::nullopt;
  return std::string(name);
}

}  // namespace

Config Parser::parse(const std::string& yaml_text) const {
  YamlRead read = read_yaml_document(yaml_text);
  if (read.error) fail(read.error->line, read.error->message);
  const YamlDocument& document = read.document;
  if (!document.root || document.root.IsNull()) {
    fail(1, "the file is empty; a config needs at least \"targets\"");
  }
  if (document.second_document_line != 0) {
    fail(document.second_document_line, "a second YAML document; a config file holds exactly one");
  }
  const YAML::Node& root = document.root;
  if (!root.IsMap()) {
    fail(line_of(root), "the file must be a map of settings, got " + describe(root));
  }

  const Section top = section(root, "at the top level", kTopLevelKeys);
  Config config;
  config.source = source_;
  read_settings(top, config);
  if (const Entry* kubernetes = top.find("kubernetes")) read_kubernetes(*kubernetes, config);
  if (const Entry* bundles = top.find("ca_bundles")) {
    for (const Entry& bundle :
         entries(map_value(*bundles), "in \"ca_bundles\"", "CA bundle name")) {
      config.ca_bundles.push_back(read_bundle(bundle));
    }
  }
  read_targets(top, line_of(root), config);
  // Kubernetes sources, discovery and the API-server vantage need the API:
  // without a `kubernetes` section they use the pod's service account.
  for (const CaBundleSource& bundle : config.ca_bundles) {
    if (from_kubernetes(bundle.kind)) config.kubernetes.enabled = true;
  }
  for (const TargetConfig& target : config.targets) {
    if (target.needs_kubernetes()) config.kubernetes.enabled = true;
  }
  return config;
}

void Parser::read_settings(const Section& top, Config& config) const {
  if (const Entry* listen = top.find("listen")) {
    auto address = parse_listen_address(string_value(*listen));
    if (!address) fail(listen->value_line(), address.error().message);
    config.listen = std::move(*address);
  }
  if (const Entry* web = top.find("web_config_file")) {
    // Read by the agent, with its own FILE:LINE errors; only named here.
    config.web_config_file = path_value(*web);
  }
  if (const Entry* vantage = top.find("vantage")) {
    config.vantage = name_value(*vantage, kVantageRule);
  }
  config.node_name = node_name(top);
  if (const Entry* concurrency = top.find("max_concurrency")) {
    config.max_concurrency = int_value(*concurrency, kConcurrencyRange);
  }
  if (const Entry* log = top.find("log")) {
    const Section log_section = section(map_value(*log), "in \"log\"", kLogKeys);
    if (const Entry* format = log_section.find("format")) {
      const std::string name = string_value(*format);
      const auto known = std::ranges::find(kLogFormats, name, &LogFormatName::name);
      if (known == std::end(kLogFormats)) {
        fail(format->value_line(), "\"format\" must be logfmt or json, got " + in_quotes(name));
      }
      config.log_format = known->format;
    }
  }
  if (const Entry* defaults = top.find("defaults")) read_defaults(*defaults, config);
}

std::string Parser::node_name(const Section& top) const {
  if (const Entry* name = top.find("node_name")) {
    // "" asks for the default, as if the key were not there.
    const std::string explicit_name = string_value(*name);
    if (!explicit_name.empty()) {
      check_name(explicit_name, name->value_line(), kNodeNameRule);
      return explicit_name;
    }
  }
  std::string variable = "NODE_NAME";
  if (const Entry* env = top.find("node_name_env")) {
    variable = name_value(*env, kEnvVarRule);
  }
  if (const char* from_env = std::getenv(variable.c_str());
      from_env != nullptr && *from_env != '\0') {
    return from_env;
  }
  auto from_host = host_name();
  if (!from_host) {
    fail(0, "cannot find the node name: set \"node_name\" or " + variable);
  }
  return *from_host;
}

void Parser::read_defaults(const Entry& entry, Config& config) const {
  // Refused by name rather than as an unknown key: a default expectation
  // would silently turn every target into a negative test.
  if (entry.value.IsMap()) {
    for (const Entry& key : entries(entry.value, "in \"defaults\"", "key")) {
      if (key.key == "expect") {
        fail(key.line,
             "\"expect\" belongs on each target that must stay blocked, not in "
             "\"defaults\": a default would make every target a negative test");
      }
    }
  }
  const Section defaults = section(map_value(entry), "in \"defaults\"", kDefaultsKeys);
  const Entry* interval = defaults.find("interval");
  const Entry* timeout = defaults.find("timeout");
  if (interval) config.default_interval = duration_value(*interval);
  if (timeout) config.default_timeout = duration_value(*timeout);
  if (const Entry* days = defaults.find("expiry_warning_days")) {
    config.expiry_warning_days = int_value(*days, kExpiryDaysRange);
  }
  if (const Entry* full_verify = defaults.find("full_verify_interval")) {
    config.default_full_verify_interval = duration_or_zero_value(*full_verify);
  }
  if (config.default_timeout > config.default_interval) {
    fail((timeout ? timeout : interval)->value_line(),
         "default timeout " + format_duration(config.default_timeout) +
             " is longer than the default interval " + format_duration(config.default_interval) +
             "; a probe must finish before the next one is due");
  }
}

void Parser::read_kubernetes(const Entry& entry, Config& config) const {
  KubernetesConfig& kube = config.kubernetes;
  kube.enabled = true;
  kube.line = entry.line;
  // `kubernetes: {}` and a bare `kubernetes:` both mean in-cluster defaults.
  if (entry.value.IsNull()) return;
  const Section keys = section(map_value(entry), "in \"kubernetes\"", kKubernetesKeys);
  if (const Entry* kubeconfig = keys.find("kubeconfig")) {
    // Relative to the config, like CA bundle files. Read when meshprobe
    // connects, not here: validating a config never needs the cluster.
    kube.kubeconfig = path_value(*kubeconfig);
  }
  if (const Entry* context = keys.find("context")) {
    kube.context = string_value(*context);
    if (kube.context.empty()) fail(context->value_line(), "\"context\" must not be empty");
  }
  if (const Entry* refresh = keys.find("refresh")) {
    kube.refresh = duration_value(*refresh);
    if (kube.refresh < kMinRefresh) {
      fail(refresh->value_line(), "\"refresh\" must be at least " + format_duration(kMinRefresh) +
                                      ": each refresh reads several lists from the API server");
    }
  }
  if (const Entry* timeout = keys.find("request_timeout")) {
    kube.request_timeout = duration_value(*timeout);
  }
  if (const Entry* hygiene = keys.find("hygiene")) kube.hygiene = bool_value(*hygiene);
  if (const Entry* ns = keys.find("istio_namespace")) {
    kube.istio_namespace = kubernetes_name(*ns, 63, false, "namespace");
  }
  if (const Entry* revision = keys.find("revision")) {
    kube.revision = kubernetes_name(*revision, 63, false, "revision");
  }
}

}  // namespace config_parser

bool from_kubernetes(CaSourceKind kind) {
  return kind == CaSourceKind::mutating_webhook || kind == CaSourceKind::validating_webhook ||
         kind == CaSourceKind::configmap;
}

Config parse_config(const std::string& yaml_text, const std::string& source) {
  return config_parser::Parser(source).parse(yaml_text);
}

Config load_config(const std::string& path) {
  return parse_config(yaml_text::read_config_file(path), path);
}

}  // namespace meshprobe
