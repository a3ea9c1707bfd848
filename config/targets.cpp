// The agent config's `targets`: each a URL and the keys that refine it,
// checked against its probe kind, the defaults and the CA bundles read
// before it, and built into the Target the prober runs.
#include <algorithm>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>

#include "config/duration.h"
#include "config/parser.h"
#include "config/service_host.h"

namespace meshprobe::config_parser {
namespace {

// Every key of a target. Anything else is refused, as everywhere in the
// config.
constexpr std::string_view kTargetKeys[] = {"name",
                                            "url",
                                            "ca",
                                            "server_name",
                                            "interval",
                                            "timeout",
                                            "expected_status",
                                            "expiry_warning_days",
                                            "full_verify_interval",
                                            "labels",
                                            "discover",
                                            "via",
                                            "grpc_method",
                                            "grpc_expect_serving",
                                            "expect",
                                            "admission",
                                            "namespace"};

// The keys of an admission target; the others describe a connection the
// API server makes by its own rules.
constexpr std::string_view kAdmissionKeys[] = {"name",     "admission", "namespace",
                                               "interval", "timeout",   "labels"};

struct AdmissionName {
  std::string_view name;
  Admission admission;
  std::string_view via;
};
constexpr AdmissionName kAdmissions[] = {
    {"inject", Admission::inject, kAdmissionInjectVia},
    {"validate", Admission::validate, kAdmissionValidateVia},
};

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
constexpr std::string_view kNotViaApiserverKeys[] = {"ca", "server_name", "expiry_warning_days"};

bool is_https(ProbeKind kind) { return kind == ProbeKind::https; }
bool is_grpc(ProbeKind kind) { return kind == ProbeKind::grpc; }

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
    {"full_verify_interval", uses_tls, "tls, https and grpc"},
    {"expected_status", is_https, "https"},
    {"grpc_method", is_grpc, "grpc"},
    {"grpc_expect_serving", is_grpc, "grpc"},
};

constexpr IntRange kStatusRange{100, 599};

constexpr std::size_t kMaxLabelsPerTarget = 8;

// Labels meshprobe itself puts on its series, and those Prometheus attaches
// or reserves: a user label of the same name would clash with them.
constexpr std::string_view kReservedLabels[] = {"target",  "url",  "kind",      "address",
                                                "vantage", "node", "diagnosis", "phase",
                                                "le",      "job",  "instance",  "grpc_status"};

}  // namespace

void Parser::read_targets(const Section& top, int top_line, Config& config) const {
  const Entry* targets = top.find("targets");
  if (!targets) fail(top_line, "no targets: the config needs a \"targets\" list");
  if (targets->value.IsNull() || (targets->value.IsSequence() && targets->value.size() == 0)) {
    fail(targets->line, "no targets: \"targets\" is empty");
  }
  if (!targets->value.IsSequence()) {
    fail(targets->value_line(), "\"targets\" must be a list, got " + describe(targets->value));
  }

  std::map<std::string, int, std::less<>> first_line_of_name;
  // Exactly: the agent keeps this list, and growth by doubling left a third
  // of it unused (3 MB at 10,000 targets).
  config.targets.reserve(targets->value.size());
  for (const auto& item : targets->value) {
    TargetConfig target = read_target(item, config);
    const auto [first, inserted] = first_line_of_name.emplace(target.target->name, target.line);
    if (!inserted) {
      fail(target.line, "duplicate target name " + in_quotes(target.target->name) +
                            " (first at line " + std::to_string(first->second) +
                            "); give each target a distinct \"name\"");
    }
    config.targets.push_back(std::move(target));
  }
}

TargetConfig Parser::read_target(const YAML::Node& item, const Config& config) const {
  const int line = line_of(item);
  if (!item.IsMap()) {
    fail(line,
         "each item of \"targets\" must be a map with at least \"url\", got " + describe(item));
  }
  const Section keys = section(item, "in target", kTargetKeys);
  if (keys.find("admission")) return read_admission_target(keys, line);
  if (const Entry* ns = keys.find("namespace")) {
    fail(ns->line,
         "\"namespace\" applies only to admission targets (\"admission: inject|validate\")");
  }

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
                                 in_quotes(result.ca) + ", which is not defined in ca_bundles");
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
         "target " + in_quotes(target.name) + ": timeout " + format_duration(target.timeout) +
             " is longer than its interval " + format_duration(result.interval) +
             "; a probe must finish before the next one is due");
  }

  if (const Entry* status = keys.find("expected_status")) {
    target.expected_status = int_value(*status, kStatusRange);
  }
  read_target_grpc_keys(keys, target);
  const Entry* days = keys.find("expiry_warning_days");
  target.expiry_warning_days =
      days ? int_value(*days, kExpiryDaysRange) : config.expiry_warning_days;
  const Entry* full_verify = keys.find("full_verify_interval");
  target.full_verify_interval =
      full_verify ? duration_or_zero_value(*full_verify) : config.default_full_verify_interval;
  if (const Entry* labels = keys.find("labels")) target.labels = read_labels(*labels);
  if (const Entry* expect = keys.find("expect")) target.expect = read_expect(*expect);
  result.target = std::make_shared<const Target>(std::move(target));
  return result;
}

// The request is the API server's own: the target is a mode and a
// namespace, and its URL (the `url` label) says so: admission://MODE/NS.
TargetConfig Parser::read_admission_target(const Section& keys, int line) const {
  for (std::string_view key : kTargetKeys) {
    const Entry* entry = keys.find(key);
    if (entry && std::ranges::find(kAdmissionKeys, key) == std::end(kAdmissionKeys)) {
      fail(entry->line, in_quotes(key) +
                            " does not apply to an admission target: the API server makes "
                            "the webhook call by its own configuration (its keys: name, "
                            "admission, namespace, interval, timeout, labels)");
    }
  }
  const Entry& mode = *keys.find("admission");
  const std::string mode_name = string_value(mode);
  const auto known = std::ranges::find(kAdmissions, mode_name, &AdmissionName::name);
  if (known == std::end(kAdmissions)) {
    fail(mode.value_line(),
         "\"admission\" must be inject or validate, got " + in_quotes(mode_name));
  }
  const Entry* ns_entry = keys.find("namespace");
  const std::string ns = ns_entry ? kubernetes_name(*ns_entry, 63, false, "namespace")
                                  : std::string(kDefaultCanaryNamespace);

  TargetConfig result;
  result.line = line;
  result.admission = known->admission;
  Target target;
  target.url = "admission://" + mode_name + "/" + ns;
  target.name = target.url;
  if (const Entry* name = keys.find("name")) target.name = name_value(*name, kTargetNameRule);
  target.kind = ProbeKind::https;  // a POST to the API server
  target.host = ns;
  target.via = std::string(known->via);
  target.vantage = "apiserver";

  const Entry* interval = keys.find("interval");
  const Entry* timeout = keys.find("timeout");
  result.interval = interval ? duration_value(*interval) : kAdmissionInterval;
  target.timeout =
      timeout ? duration_value(*timeout) : std::min(kAdmissionTimeout, result.interval);
  if (target.timeout > result.interval) {
    fail((timeout ? timeout : interval)->value_line(),
         "target " + in_quotes(target.name) + ": timeout " + format_duration(target.timeout) +
             " is longer than its interval " + format_duration(result.interval) +
             "; a probe must finish before the next one is due");
  }
  if (const Entry* labels = keys.find("labels")) target.labels = read_labels(*labels);
  result.target = std::make_shared<const Target>(std::move(target));
  return result;
}

void Parser::read_target_grpc_keys(const Section& keys, Target& target) const {
  const Entry* method = keys.find("grpc_method");
  if (method) {
    target.grpc_method = string_value(*method);
    if (std::string problem = grpc_method_problem(target.grpc_method); !problem.empty()) {
      fail(method->value_line(),
           "\"grpc_method\" " + in_quotes(target.grpc_method) + ": " + problem);
    }
  }
  const Entry* serving = keys.find("grpc_expect_serving");
  if (!serving) return;
  target.grpc_expect_serving = bool_value(*serving);
  if (target.grpc_expect_serving && target.grpc_method != kDefaultGrpcMethod) {
    fail(serving->line, "\"grpc_expect_serving\" needs the health check's method " +
                            std::string(kDefaultGrpcMethod) + ", and \"grpc_method\" is " +
                            in_quotes(target.grpc_method));
  }
}

void Parser::read_target_kubernetes_keys(const Section& keys, const Target& target,
                                         TargetConfig& result) const {
  const auto service_host_required = [&](const Entry& entry, std::string_view what) {
    if (!parse_service_host(target.host)) {
      fail(entry.value_line(), std::string(what) +
                                   " needs a Service host NAME.NAMESPACE.svc (or "
                                   "NAME.NAMESPACE.svc.cluster.local), and " +
                                   in_quotes(target.url) + " has " + in_quotes(target.host));
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
    fail(via->value_line(),
         "\"via: apiserver\" needs an https:// target: the API server's "
         "proxy speaks HTTP, and " +
             in_quotes(target.url) + " is " + std::string(kind_name(target.kind)));
  }
  service_host_required(*via, "\"via: apiserver\"");
  for (std::string_view key : kNotViaApiserverKeys) {
    if (const Entry* entry = keys.find(key)) {
      fail(entry->line, in_quotes(key) +
                            " does not apply with \"via: apiserver\": the API "
                            "server's proxy dials istiod and verifies it by its own "
                            "rules (probe it directly to check a CA bundle)");
    }
  }
}

DiagnosisSet Parser::read_expect(const Entry& entry) const {
  static constexpr std::string_view kForms =
      "\"expect\" must be blocked or {diagnosis: [CODE, ...]}";
  if (entry.value.IsScalar()) {
    const std::string form = string_value(entry);
    if (form != "blocked")
      fail(entry.value_line(), std::string(kForms) + ", got " + in_quotes(form));
    return kBlocked;
  }
  if (!entry.value.IsMap())
    fail(entry.value_line(), std::string(kForms) + ", got " + describe(entry.value));
  static constexpr std::string_view kExpectKeys[] = {"diagnosis"};
  const Section keys = section(entry.value, "in \"expect\"", kExpectKeys);
  const Entry* codes = keys.find("diagnosis");
  if (!codes) fail(entry.line, std::string(kForms) + ": the map has no \"diagnosis\"");
  if (!codes->value.IsSequence() || codes->value.size() == 0) {
    fail(codes->value_line(),
         "\"expect.diagnosis\" must be a non-empty list of diagnosis codes, got " +
             describe(codes->value));
  }
  DiagnosisSet expect;
  for (const YAML::Node& item : codes->value) {
    const int line = line_of(item);
    if (!item.IsScalar()) {
      fail(line, "\"expect.diagnosis\": each item must be a diagnosis code, got " + describe(item));
    }
    const std::string& text = item.Scalar();
    Diagnosis d = Diagnosis::ok;
    if (!parse_diagnosis(text, d)) {
      std::string known;
      for (Diagnosis c : kAllDiagnoses) {
        if (c == Diagnosis::ok || c == Diagnosis::unexpectedly_reachable) continue;
        known += known.empty() ? "" : ", ";
        known += code(c);
      }
      fail(line, "\"expect.diagnosis\": unknown diagnosis code " + in_quotes(text) +
                     " (the catalogue's failures: " + known + ")");
    }
    if (d == Diagnosis::ok) {
      fail(line,
           "\"expect.diagnosis\": ok is what a target without \"expect\" must end in; "
           "list the failures the path must end in");
    }
    if (d == Diagnosis::unexpectedly_reachable) {
      fail(line,
           "\"expect.diagnosis\": unexpectedly_reachable is the verdict on an "
           "expectation, never what a probe observes");
    }
    expect.insert(d);
  }
  return expect;
}

std::map<std::string, std::string> Parser::read_labels(const Entry& entry) const {
  const std::vector<Entry> labels = entries(map_value(entry), "in \"labels\"", "label");
  if (labels.size() > kMaxLabelsPerTarget) {
    fail(entry.line, "at most " + std::to_string(kMaxLabelsPerTarget) + " labels per target, got " +
                         std::to_string(labels.size()));
  }
  std::map<std::string, std::string> result;
  for (const Entry& label : labels) {
    check_name(label.key, label.line, kLabelNameRule);
    if (std::ranges::find(kReservedLabels, label.key) != std::end(kReservedLabels)) {
      fail(label.line,
           "label " + in_quotes(label.key) + " is reserved: meshprobe or Prometheus sets it");
    }
    if (label.key.starts_with("__")) {
      fail(label.line, "label " + in_quotes(label.key) +
                           " is reserved: names starting with __ are Prometheus' own");
    }
    result[label.key] = string_value(label);
  }
  return result;
}

}  // namespace meshprobe::config_parser
