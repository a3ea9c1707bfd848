#include "config/config.h"
#include "config/yaml_guard.h"
#include "config/yaml_text.h"

#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string_view>
#include <utility>

#include "config/duration.h"
#include "config/service_host.h"

namespace meshprobe {

ConfigError::ConfigError(std::string source, int line, std::string message, int system_error)
    : std::runtime_error(source + (line > 0 ? ":" + std::to_string(line) : "") +
                         ": " + message),
      source_(std::move(source)),
      line_(line),
      message_(std::move(message)),
      system_error_(system_error) {}

bool ConfigError::transient() const {
  switch (system_error_) {
    case EMFILE: case ENFILE: case ENOMEM: case ENOBUFS: case EAGAIN: case EINTR: return true;
    default: return false;
  }
}

namespace {

using std::chrono::milliseconds;

// ---- The schema ------------------------------------------------------------
// Every map's known keys. Anything else is refused, so that a config written
// for a newer meshprobe fails loudly on an older one.

constexpr std::string_view kTopLevelKeys[] = {
    "listen", "vantage", "node_name", "node_name_env", "max_concurrency",
    "web_config_file", "log", "defaults", "kubernetes", "ca_bundles", "targets"};
constexpr std::string_view kKubernetesKeys[] = {
    "kubeconfig", "context", "refresh", "request_timeout", "hygiene", "istio_namespace"};
constexpr std::string_view kLogKeys[] = {"format"};
constexpr std::string_view kDefaultsKeys[] = {"interval", "timeout",
                                              "expiry_warning_days"};
constexpr std::string_view kCaBundleKeys[] = {
    "file", "pem", "system", "mutating_webhook", "validating_webhook", "configmap",
    "webhook", "key"};
constexpr std::string_view kTargetKeys[] = {
    "name", "url", "ca", "server_name", "interval", "timeout",
    "expected_status", "expiry_warning_days", "labels", "discover", "via"};

struct DiscoveryName {
  std::string_view name;
  Discovery discovery;
};
constexpr DiscoveryName kDiscoveries[] = {
    {"endpoints", Discovery::endpoints},
    {"revisions", Discovery::revisions},
};

struct ViaName {
  std::string_view name;
  Via via;
};
constexpr ViaName kVias[] = {
    {"direct", Via::direct},
    {"apiserver", Via::apiserver},
};

// Keys the API server's proxy makes meaningless: it dials istiod itself and
// trusts what it trusts, not meshprobe's bundle or expected name.
constexpr std::string_view kNotViaApiserverKeys[] = {"ca", "server_name",
                                                     "expiry_warning_days"};

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

bool is_https(ProbeKind kind) { return kind == ProbeKind::https; }

// Target keys that mean nothing for some probe kinds: refused there rather
// than silently ignored, since their presence shows a misunderstanding.
struct KindSpecificKey {
  std::string_view key;
  bool (*applies_to)(ProbeKind);
  std::string_view kinds;
};
const KindSpecificKey kKindSpecificKeys[] = {
    {"ca", uses_tls, "tls, https and grpc"},
    {"server_name", uses_tls, "tls, https and grpc"},
    {"expiry_warning_days", uses_tls, "tls, https and grpc"},
    {"expected_status", is_https, "https"},
};

struct IntRange {
  int min;
  int max;
};
constexpr IntRange kConcurrencyRange{1, 100'000};
constexpr IntRange kStatusRange{100, 599};
constexpr IntRange kExpiryDaysRange{0, 3650};

constexpr std::size_t kMaxLabelsPerTarget = 8;

// Labels meshprobe itself puts on its series, and those Prometheus attaches
// or reserves: a user label of the same name would clash with them.
constexpr std::string_view kReservedLabels[] = {
    "target", "url", "kind", "address", "vantage", "node", "diagnosis",
    "phase", "le", "job", "instance"};

// ---- Names -----------------------------------------------------------------
// Values that become label values or identifiers: a small character set keeps
// them safe in logfmt, URLs and PromQL selectors without quoting.

bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_identifier_start(char c) { return is_alpha(c) || c == '_'; }
bool is_identifier_char(char c) { return is_identifier_start(c) || is_digit(c); }
bool is_label_value_char(char c) {
  return is_identifier_char(c) || c == '.' || c == '-';
}
bool is_target_name_char(char c) {
  return is_label_value_char(c) || c == ':' || c == '/';
}
bool is_host_char(char c) { return is_label_value_char(c) || c == ':'; }

struct NameRule {
  std::string_view what;
  std::size_t max_length;
  bool (*first_char)(char);
  bool (*other_char)(char);
  std::string_view described;  // the rule, for the message
};

const NameRule kVantageRule{"vantage", 63, is_label_value_char, is_label_value_char,
                            "letters, digits, _ . -"};
const NameRule kNodeNameRule{"node name", 253, is_label_value_char,
                             is_label_value_char, "letters, digits, _ . -"};
const NameRule kEnvVarRule{"environment variable name", 255, is_identifier_start,
                           is_identifier_char,
                           "letters, digits and _, not starting with a digit"};
const NameRule kBundleNameRule{"CA bundle name", 63, is_label_value_char,
                               is_label_value_char, "letters, digits, _ . -"};
const NameRule kTargetNameRule{"target name", 128, is_target_name_char,
                               is_target_name_char, "letters, digits, _ . : / -"};
const NameRule kServerNameRule{"server name", 253, is_host_char, is_host_char,
                               "letters, digits, _ . : -"};
const NameRule kLabelNameRule{"label name", 63, is_identifier_start,
                              is_identifier_char,
                              "letters, digits and _, not starting with a digit"};

// Kubernetes object names (RFC 1123): lowercase letters, digits and '-',
// starting and ending with a letter or digit; a subdomain may have dots.
bool is_rfc1123(std::string_view name, std::size_t max_length, bool dots) {
  if (name.empty() || name.size() > max_length) return false;
  const auto alnum = [](char c) { return (c >= 'a' && c <= 'z') || is_digit(c); };
  if (!alnum(name.front()) || !alnum(name.back())) return false;
  return std::all_of(name.begin(), name.end(),
                     [&](char c) { return alnum(c) || c == '-' || (dots && c == '.'); });
}

// A ConfigMap data key.
bool is_config_map_key(std::string_view key) {
  if (key.empty() || key.size() > 253) return false;
  return std::all_of(key.begin(), key.end(), [](char c) {
    return is_alpha(c) || is_digit(c) || c == '-' || c == '_' || c == '.';
  });
}

bool follows(const NameRule& rule, std::string_view name) {
  if (name.empty() || name.size() > rule.max_length) return false;
  if (!rule.first_char(name.front())) return false;
  for (char c : name.substr(1)) {
    if (!rule.other_char(c)) return false;
  }
  return true;
}

using yaml_text::Entry;
using yaml_text::in_quotes;
using yaml_text::joined;
using yaml_text::line_of;

// ---- YAML nodes ------------------------------------------------------------

std::string describe(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Map: return "a map";
    case YAML::NodeType::Sequence: return "a list";
    case YAML::NodeType::Scalar: return in_quotes(node.Scalar());
    default: return "nothing";
  }
}

class Section {
 public:
  explicit Section(std::vector<Entry> entries) : entries_(std::move(entries)) {}

  const Entry* find(std::string_view key) const {
    for (const Entry& entry : entries_) {
      if (entry.key == key) return &entry;
    }
    return nullptr;
  }

 private:
  std::vector<Entry> entries_;
};

Expected<std::shared_ptr<const CaBundle>> load_bundle(const CaBundleSource& source) {
  switch (source.kind) {
    case CaSourceKind::file: return CaBundle::from_file(source.file);
    case CaSourceKind::inline_pem:
      return CaBundle::from_pem(source.inline_pem,
                                "CA bundle " + in_quotes(source.name) + " (inline pem)");
    case CaSourceKind::system: return CaBundle::system();
    case CaSourceKind::mutating_webhook:
    case CaSourceKind::validating_webhook:
    case CaSourceKind::configmap: break;  // read from the API, never from the config
  }
  return Error{"CA bundle " + in_quotes(source.name) + ": unknown source"};
}

std::optional<std::string> host_name() {
  char name[256] = {};
  if (gethostname(name, sizeof name - 1) != 0) return std::nullopt;
  return std::string(name);
}

// ---- The parser ------------------------------------------------------------

class Parser {
 public:
  explicit Parser(std::string source) : source_(std::move(source)) {}

  Config parse(const std::string& yaml_text) const;

 private:
  [[noreturn]] void fail(int line, std::string message, int system_error = 0) const {
    throw ConfigError(source_, line, std::move(message), system_error);
  }

  // The entries of `map`, in order. yaml-cpp keeps only one of two equal keys
  // when looking a key up, so duplicates are caught here, by walking them all.
  std::vector<Entry> entries(const YAML::Node& map, std::string_view where,
                             std::string_view key_noun) const;
  // A map whose keys are all in `known`.
  Section section(const YAML::Node& map, std::string_view where,
                  std::span<const std::string_view> known) const;
  const YAML::Node& map_value(const Entry& entry) const;

  const std::string& scalar(const Entry& entry, std::string_view expected) const;
  std::string string_value(const Entry& entry) const;
  std::string name_value(const Entry& entry, const NameRule& rule) const;
  void check_name(std::string_view name, int line, const NameRule& rule) const;
  milliseconds duration_value(const Entry& entry) const;
  int int_value(const Entry& entry, IntRange range) const;
  bool bool_value(const Entry& entry) const;

  void read_settings(const Section& top, Config& config) const;
  std::string node_name(const Section& top) const;
  void read_defaults(const Entry& entry, Config& config) const;
  void read_kubernetes(const Entry& entry, Config& config) const;
  std::string kubernetes_name(const Entry& entry, std::size_t max_length, bool dots,
                              std::string_view what) const;
  // A non-empty file name, relative ones taken from the config's directory.
  std::string path_value(const Entry& entry) const;
  void read_kubernetes_bundle(const Section& keys, CaBundleSource& source) const;
  void read_target_kubernetes_keys(const Section& keys, const Target& target,
                                   TargetConfig& result) const;
  CaBundleSource read_bundle(const Entry& entry) const;
  TargetConfig read_target(const YAML::Node& item, const Config& config) const;
  std::map<std::string, std::string> read_labels(const Entry& entry) const;
  void read_targets(const Section& top, int top_line, Config& config) const;

  std::string source_;
};

std::vector<Entry> Parser::entries(const YAML::Node& map, std::string_view where,
                                   std::string_view key_noun) const {
  return yaml_text::entries(map, source_, where, key_noun, describe);
}

Section Parser::section(const YAML::Node& map, std::string_view where,
                        std::span<const std::string_view> known) const {
  std::vector<Entry> found = entries(map, where, "key");
  for (const Entry& entry : found) {
    if (std::ranges::find(known, entry.key) == known.end()) {
      fail(entry.line, "unknown key " + in_quotes(entry.key) + " " + std::string(where) +
                           "; known keys: " + joined(known));
    }
  }
  return Section(std::move(found));
}

const YAML::Node& Parser::map_value(const Entry& entry) const {
  if (!entry.value.IsMap()) {
    fail(entry.value_line(),
         in_quotes(entry.key) + " must be a map, got " + describe(entry.value));
  }
  return entry.value;
}

const std::string& Parser::scalar(const Entry& entry,
                                  std::string_view expected) const {
  if (!entry.value.IsScalar()) {
    fail(entry.value_line(), in_quotes(entry.key) + " must be " + std::string(expected) +
                                 ", got " + describe(entry.value));
  }
  return entry.value.Scalar();
}

std::string Parser::string_value(const Entry& entry) const {
  return scalar(entry, "a string");
}

void Parser::check_name(std::string_view name, int line, const NameRule& rule) const {
  if (!follows(rule, name)) {
    fail(line, "invalid " + std::string(rule.what) + " " + in_quotes(name) + ": use 1 to " +
                   std::to_string(rule.max_length) + " characters: " +
                   std::string(rule.described));
  }
}

std::string Parser::name_value(const Entry& entry, const NameRule& rule) const {
  std::string name = string_value(entry);
  check_name(name, entry.value_line(), rule);
  return name;
}

std::string Parser::path_value(const Entry& entry) const {
  const std::string path = string_value(entry);
  if (path.empty()) fail(entry.value_line(), in_quotes(entry.key) + " must not be empty");
  return yaml_text::relative_to_source(source_, path);
}

milliseconds Parser::duration_value(const Entry& entry) const {
  const auto duration = parse_duration(scalar(entry, "a duration like 10s"));
  if (!duration) fail(entry.value_line(), entry.key + ": " + duration.error().message);
  if (duration->count() <= 0) {
    fail(entry.value_line(), in_quotes(entry.key) + " must be greater than 0");
  }
  return *duration;
}

int Parser::int_value(const Entry& entry, IntRange range) const {
  const std::string expected = "a whole number from " + std::to_string(range.min) +
                               " to " + std::to_string(range.max);
  const std::string& text = scalar(entry, expected);
  int value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || error != std::errc{} || end != text.data() + text.size() ||
      value < range.min || value > range.max) {
    fail(entry.value_line(),
         in_quotes(entry.key) + " must be " + expected + ", got " + in_quotes(text));
  }
  return value;
}

bool Parser::bool_value(const Entry& entry) const {
  scalar(entry, "true or false");
  bool value = false;
  if (!YAML::convert<bool>::decode(entry.value, value)) {
    fail(entry.value_line(), in_quotes(entry.key) + " must be true or false, got " +
                                 describe(entry.value));
  }
  return value;
}

Config Parser::parse(const std::string& yaml_text) const {
  if (const int line = line_of_leading_flow_entry(yaml_text)) {
    fail(line, "YAML syntax error: a document cannot start with ','");
  }
  YamlDocument document;
  try {
    document = load_one_document(yaml_text);
  } catch (const YAML::Exception& error) {
    fail(error.mark.is_null() ? 0 : error.mark.line + 1,
         "YAML syntax error: " + error.msg);
  }
  if (!document.root || document.root.IsNull()) {
    fail(1, "the file is empty; a config needs at least \"targets\"");
  }
  if (document.second_document_line != 0) {
    fail(document.second_document_line,
         "a second YAML document; a config file holds exactly one");
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
        fail(format->value_line(),
             "\"format\" must be logfmt or json, got " + in_quotes(name));
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
  const Section defaults = section(map_value(entry), "in \"defaults\"", kDefaultsKeys);
  const Entry* interval = defaults.find("interval");
  const Entry* timeout = defaults.find("timeout");
  if (interval) config.default_interval = duration_value(*interval);
  if (timeout) config.default_timeout = duration_value(*timeout);
  if (const Entry* days = defaults.find("expiry_warning_days")) {
    config.expiry_warning_days = int_value(*days, kExpiryDaysRange);
  }
  if (config.default_timeout > config.default_interval) {
    fail((timeout ? timeout : interval)->value_line(),
         "default timeout " + format_duration(config.default_timeout) +
             " is longer than the default interval " +
             format_duration(config.default_interval) +
             "; a probe must finish before the next one is due");
  }
}

std::string Parser::kubernetes_name(const Entry& entry, std::size_t max_length, bool dots,
                                    std::string_view what) const {
  std::string name = string_value(entry);
  if (!is_rfc1123(name, max_length, dots)) {
    fail(entry.value_line(),
         "invalid " + std::string(what) + " " + in_quotes(name) + ": use 1 to " +
             std::to_string(max_length) + " lowercase letters, digits, '-'" +
             (dots ? ", '.'" : "") + ", starting and ending with a letter or digit");
  }
  return name;
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
}

void Parser::read_kubernetes_bundle(const Section& keys, CaBundleSource& source) const {
  const Entry* mutating = keys.find("mutating_webhook");
  const Entry* validating = keys.find("validating_webhook");
  const Entry* configmap = keys.find("configmap");
  const Entry* webhook = keys.find("webhook");
  const Entry* key = keys.find("key");
  if (webhook && !mutating && !validating) {
    fail(webhook->line, "\"webhook\" names an entry of a webhook configuration: it goes with "
                        "\"mutating_webhook\" or \"validating_webhook\"");
  }
  if (key && !configmap) {
    fail(key->line, "\"key\" names a ConfigMap key: it goes with \"configmap\"");
  }
  if (mutating || validating) {
    source.kind = mutating ? CaSourceKind::mutating_webhook : CaSourceKind::validating_webhook;
    source.object_name =
        kubernetes_name(*(mutating ? mutating : validating), 253, true, "webhook configuration name");
    if (webhook) source.webhook = kubernetes_name(*webhook, 253, true, "webhook name");
    return;
  }
  source.kind = CaSourceKind::configmap;
  const std::string reference = string_value(*configmap);
  const std::size_t slash = reference.find('/');
  if (slash == std::string::npos) {
    fail(configmap->value_line(),
         "\"configmap\" must be NAMESPACE/NAME, e.g. istio-system/istio-ca-root-cert, got " +
             in_quotes(reference));
  }
  source.object_namespace = reference.substr(0, slash);
  source.object_name = reference.substr(slash + 1);
  if (!is_rfc1123(source.object_namespace, 63, false) ||
      !is_rfc1123(source.object_name, 253, true)) {
    fail(configmap->value_line(),
         "invalid ConfigMap reference " + in_quotes(reference) +
             ": NAMESPACE/NAME in lowercase letters, digits, '-' (and '.' in the name)");
  }
  source.key = "root-cert.pem";  // what istio-ca-root-cert holds
  if (key) {
    source.key = string_value(*key);
    if (!is_config_map_key(source.key)) {
      fail(key->value_line(), "invalid ConfigMap key " + in_quotes(source.key) +
                                  ": use letters, digits, '-', '_' and '.'");
    }
  }
}

CaBundleSource Parser::read_bundle(const Entry& entry) const {
  check_name(entry.key, entry.line, kBundleNameRule);
  CaBundleSource source;
  source.name = entry.key;
  source.line = entry.line;
  const std::string where = "in CA bundle " + in_quotes(entry.key);
  const Section keys = section(map_value(entry), where, kCaBundleKeys);

  const Entry* file = keys.find("file");
  const Entry* pem = keys.find("pem");
  const Entry* system = keys.find("system");
  const int kubernetes_sources = (keys.find("mutating_webhook") ? 1 : 0) +
                                 (keys.find("validating_webhook") ? 1 : 0) +
                                 (keys.find("configmap") ? 1 : 0);
  if ((file ? 1 : 0) + (pem ? 1 : 0) + (system ? 1 : 0) + kubernetes_sources != 1) {
    fail(entry.line, "CA bundle " + in_quotes(entry.key) +
                         " needs exactly one of \"file\", \"pem\", \"system: true\", "
                         "\"mutating_webhook\", \"validating_webhook\" or \"configmap\"");
  }
  if (kubernetes_sources == 1) {
    read_kubernetes_bundle(keys, source);
    return source;  // read from the API at run time
  }
  for (std::string_view kubernetes_only : {"webhook", "key"}) {
    if (const Entry* misplaced = keys.find(kubernetes_only)) {
      fail(misplaced->line, in_quotes(kubernetes_only) +
                                " applies only to Kubernetes CA sources (mutating_webhook, "
                                "validating_webhook, configmap)");
    }
  }

  if (file) {
    source.kind = CaSourceKind::file;
    source.file = path_value(*file);
  } else if (pem) {
    source.kind = CaSourceKind::inline_pem;
    source.inline_pem = string_value(*pem);
  } else {
    if (!bool_value(*system)) {
      fail(system->value_line(),
           "\"system\" can only be true; to use a file or PEM text, replace it "
           "with \"file\" or \"pem\"");
    }
    source.kind = CaSourceKind::system;
  }

  auto loaded = load_bundle(source);
  if (!loaded) {
    fail((file ? file : pem ? pem : system)->value_line(), loaded.error().message,
         loaded.error().system_error);
  }
  source.bundle = std::move(*loaded);
  return source;
}

std::map<std::string, std::string> Parser::read_labels(const Entry& entry) const {
  const std::vector<Entry> labels =
      entries(map_value(entry), "in \"labels\"", "label");
  if (labels.size() > kMaxLabelsPerTarget) {
    fail(entry.line, "at most " + std::to_string(kMaxLabelsPerTarget) +
                         " labels per target, got " + std::to_string(labels.size()));
  }
  std::map<std::string, std::string> result;
  for (const Entry& label : labels) {
    check_name(label.key, label.line, kLabelNameRule);
    if (std::ranges::find(kReservedLabels, label.key) != std::end(kReservedLabels)) {
      fail(label.line, "label " + in_quotes(label.key) +
                           " is reserved: meshprobe or Prometheus sets it");
    }
    if (label.key.starts_with("__")) {
      fail(label.line, "label " + in_quotes(label.key) +
                           " is reserved: names starting with __ are Prometheus' own");
    }
    result[label.key] = string_value(label);
  }
  return result;
}

TargetConfig Parser::read_target(const YAML::Node& item, const Config& config) const {
  const int line = line_of(item);
  if (!item.IsMap()) {
    fail(line, "each item of \"targets\" must be a map with at least \"url\", got " +
                   describe(item));
  }
  const Section keys = section(item, "in target", kTargetKeys);

  const Entry* url = keys.find("url");
  if (!url) fail(line, "target has no \"url\"");
  auto parsed = parse_target_url(string_value(*url));
  if (!parsed) fail(url->value_line(), parsed.error().message);

  TargetConfig result;
  result.line = line;
  Target target = std::move(*parsed);
  if (const Entry* name = keys.find("name")) {
    target.name = name_value(*name, kTargetNameRule);
  }

  for (const KindSpecificKey& rule : kKindSpecificKeys) {
    if (const Entry* entry = keys.find(rule.key); entry && !rule.applies_to(target.kind)) {
      fail(entry->line, in_quotes(rule.key) + " applies only to " + std::string(rule.kinds) +
                            " targets, and " + in_quotes(target.url) + " is " +
                            std::string(kind_name(target.kind)));
    }
  }

  read_target_kubernetes_keys(keys, target, result);

  if (const Entry* ca = keys.find("ca")) {
    result.ca = string_value(*ca);
    for (const CaBundleSource& bundle : config.ca_bundles) {
      if (bundle.name != result.ca) continue;
      target.ca = bundle.bundle;
      result.ca_from_kubernetes = from_kubernetes(bundle.kind);
    }
    if (!target.ca && !result.ca_from_kubernetes) {
      fail(ca->value_line(), "target " + in_quotes(target.name) + " names CA bundle " +
                                 in_quotes(result.ca) +
                                 ", which is not defined in ca_bundles");
    }
  }
  if (const Entry* server_name = keys.find("server_name")) {
    target.server_name = name_value(*server_name, kServerNameRule);
    result.explicit_server_name = true;
  }

  const Entry* interval = keys.find("interval");
  const Entry* timeout = keys.find("timeout");
  result.interval = interval ? duration_value(*interval) : config.default_interval;
  target.timeout = timeout ? duration_value(*timeout) : config.default_timeout;
  if (target.timeout > result.interval) {
    fail((timeout ? timeout : interval)->value_line(),
         "target " + in_quotes(target.name) + ": timeout " +
             format_duration(target.timeout) + " is longer than its interval " +
             format_duration(result.interval) +
             "; a probe must finish before the next one is due");
  }

  if (const Entry* status = keys.find("expected_status")) {
    target.expected_status = int_value(*status, kStatusRange);
  }
  const Entry* days = keys.find("expiry_warning_days");
  target.expiry_warning_days =
      days ? int_value(*days, kExpiryDaysRange) : config.expiry_warning_days;
  if (const Entry* labels = keys.find("labels")) target.labels = read_labels(*labels);
  result.target = std::make_shared<const Target>(std::move(target));
  return result;
}

void Parser::read_target_kubernetes_keys(const Section& keys, const Target& target,
                                         TargetConfig& result) const {
  const auto service_host_required = [&](const Entry& entry, std::string_view what) {
    if (!parse_service_host(target.host)) {
      fail(entry.value_line(),
           std::string(what) + " needs a Service host NAME.NAMESPACE.svc (or "
           "NAME.NAMESPACE.svc.cluster.local), and " + in_quotes(target.url) + " has " +
               in_quotes(target.host));
    }
  };
  if (const Entry* discover = keys.find("discover")) {
    const std::string name = string_value(*discover);
    const auto known = std::ranges::find(kDiscoveries, name, &DiscoveryName::name);
    if (known == std::end(kDiscoveries)) {
      fail(discover->value_line(),
           "\"discover\" must be endpoints or revisions, got " + in_quotes(name));
    }
    result.discover = known->discovery;
    service_host_required(*discover, "\"discover: " + name + "\"");
  }
  if (const Entry* via = keys.find("via")) {
    const std::string name = string_value(*via);
    const auto known = std::ranges::find(kVias, name, &ViaName::name);
    if (known == std::end(kVias)) {
      fail(via->value_line(), "\"via\" must be apiserver or direct, got " + in_quotes(name));
    }
    result.via = known->via;
  }
  if (result.via != Via::apiserver) return;
  const Entry* via = keys.find("via");
  if (target.kind != ProbeKind::https) {
    fail(via->value_line(), "\"via: apiserver\" needs an https:// target: the API server's "
                            "proxy speaks HTTP, and " + in_quotes(target.url) + " is " +
                                std::string(kind_name(target.kind)));
  }
  service_host_required(*via, "\"via: apiserver\"");
  for (std::string_view key : kNotViaApiserverKeys) {
    if (const Entry* entry = keys.find(key)) {
      fail(entry->line, in_quotes(key) + " does not apply with \"via: apiserver\": the API "
                                         "server's proxy dials istiod and verifies it by its own "
                                         "rules (probe it directly to check a CA bundle)");
    }
  }
}

void Parser::read_targets(const Section& top, int top_line, Config& config) const {
  const Entry* targets = top.find("targets");
  if (!targets) fail(top_line, "no targets: the config needs a \"targets\" list");
  if (targets->value.IsNull() ||
      (targets->value.IsSequence() && targets->value.size() == 0)) {
    fail(targets->line, "no targets: \"targets\" is empty");
  }
  if (!targets->value.IsSequence()) {
    fail(targets->value_line(),
         "\"targets\" must be a list, got " + describe(targets->value));
  }

  std::map<std::string, int, std::less<>> first_line_of_name;
  // Exactly: the agent keeps this list, and growth by doubling left a third
  // of it unused (3 MB at 10,000 targets).
  config.targets.reserve(targets->value.size());
  for (const auto& item : targets->value) {
    TargetConfig target = read_target(item, config);
    const auto [first, inserted] =
        first_line_of_name.emplace(target.target->name, target.line);
    if (!inserted) {
      fail(target.line, "duplicate target name " + in_quotes(target.target->name) +
                            " (first at line " + std::to_string(first->second) +
                            "); give each target a distinct \"name\"");
    }
    config.targets.push_back(std::move(target));
  }
}

}  // namespace

bool from_kubernetes(CaSourceKind kind) {
  return kind == CaSourceKind::mutating_webhook || kind == CaSourceKind::validating_webhook ||
         kind == CaSourceKind::configmap;
}

Config parse_config(const std::string& yaml_text, const std::string& source) {
  return Parser(source).parse(yaml_text);
}

Config load_config(const std::string& path) {
  const std::unique_ptr<std::FILE, int (*)(std::FILE*)> file(
      std::fopen(path.c_str(), "rb"), &std::fclose);
  if (!file) {
    const int error = errno;
    throw ConfigError(path, 0, std::string("cannot read: ") + std::strerror(error), error);
  }
  std::string text;
  char buffer[64 * 1024];
  while (const std::size_t count = std::fread(buffer, 1, sizeof buffer, file.get())) {
    text.append(buffer, count);
  }
  if (std::ferror(file.get())) {
    const int error = errno;
    throw ConfigError(path, 0, std::string("cannot read: ") + std::strerror(error), error);
  }
  return parse_config(text, path);
}

}  // namespace meshprobe
