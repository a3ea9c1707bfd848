#include "agent/explain.h"

#include <boost/asio/io_context.hpp>
#include <boost/json.hpp>

#include <algorithm>
#include <array>
#include <cctype>
#include <ostream>
#include <set>

#include "agent/check_session.h"
#include "common/text.h"
#include "kube/hygiene.h"
#include "kube/webhook_call_error.h"
#include "probes/diagnosis.h"

namespace meshprobe {
namespace {

// Every matcher sees one line, lower-cased: the guide's strings are matched
// as kubectl, the API server and Envoy write them, whatever their case.

bool client_timeout_waiting_for_connection(std::string_view line) {
  return has(line, "request canceled while waiting for connection") ||
         (has(line, "dial tcp") && has(line, "i/o timeout"));
}

bool no_endpoints(std::string_view line) { return has(line, "no endpoints available for service"); }

// `Service "istiod" not found`, as kubectl and the API server's proxy say it
// (`services "istiod-1-22" not found`).
bool service_not_found(std::string_view line) {
  for (std::string_view opening : {"service \"", "services \""}) {
    const std::size_t at = line.find(opening);
    if (at == std::string_view::npos) continue;
    const std::size_t close = line.find('"', at + opening.size());
    if (close != std::string_view::npos && line.substr(close).starts_with("\" not found")) {
      return true;
    }
  }
  return false;
}

bool unknown_authority(std::string_view line) {
  return has(line, "x509: certificate signed by unknown authority");
}

// The upgrade's update of a validating webhook configuration that something
// else (the uninstalled revision's istiod, or its leftover) keeps changing.
bool stale_validating_webhook(std::string_view line) {
  return has(line, "the object has been modified") &&
         (has(line, "failed to update validatingwebhookconfiguration") ||
          has(line, "on validatingwebhookconfigurations.admissionregistration.k8s.io"));
}

bool webhook_deadline(std::string_view line) {
  return has(line, "failed calling webhook") && has(line, "context deadline exceeded");
}

bool discovery_address(std::string_view line) {
  return has(line, "no healthy upstream") || has(line, "grpc config stream closed");
}

// `lds updates: 0 successful, 1 rejected`: some xDS type with at least one
// rejected update (`0 rejected` is a proxy still waiting, not a rejection).
bool rejected_configuration(std::string_view line) {
  constexpr std::string_view kSuccessful = " successful, ";
  for (std::size_t at = line.find(kSuccessful); at != std::string_view::npos;
       at = line.find(kSuccessful, at + 1)) {
    std::size_t i = at + kSuccessful.size();
    const std::size_t digits = i;
    bool nonzero = false;
    while (i < line.size() && std::isdigit(static_cast<unsigned char>(line[i]))) {
      nonzero = nonzero || line[i] != '0';
      ++i;
    }
    if (i > digits && nonzero && line.substr(i).starts_with(" rejected")) return true;
  }
  return false;
}

// The guide's rows. Causes and remedies are the guide's (its error table and
// its sections on sidecar injection and on proxies that receive no
// configuration); the diagnosis names the catalogue entry that says more.
constexpr std::array<ExplainRow, 8> kRows = {{
    {"webhook_connection_timeout", "The API server's call to the webhook got no connection in time",
     "a network connectivity problem between the API server and istiod: the "
     "connection to the webhook never opened",
     "check the firewall rules: they must allow connections to istiod on port 15017",
     "the API server (control plane) to istiod's pods on 15017, through the "
     "istiod Service's port 443",
     "tcp_timeout", ExplainPath::webhook, client_timeout_waiting_for_connection,
     "net/http request canceled while waiting for connection client.timeout exceeded "
     "awaiting headers dial tcp timeout webhook"},
    {"no_endpoints", "The istiod Service has no endpoints",
     "the istiod pods are not available or not ready",
     "check the istiod pods and make sure they are ready (kubectl -n istio-system get "
     "pods,endpointslices)",
     "the istiod Service's endpoints: its pods, ready, on 15017 and 15012", "tcp_refused",
     ExplainPath::webhook, no_endpoints, "no endpoints available for service istiod"},
    {"service_not_found", "The istiod Service does not exist",
     "the istiod Service does not exist: the installation failed, or the revision in "
     "the name is not installed",
     "check that the Istio installation succeeded and is healthy (kubectl -n "
     "istio-system get svc)",
     "the Service the webhook configuration names (istiod or istiod-REV in istio-system)",
     "dns_not_found", ExplainPath::webhook, service_not_found, "service istiod not found"},
    {"unknown_authority", "The webhook's certificate is not trusted",
     "a problem with the webhook certificate: the webhook's caBundle does not hold the "
     "CA that signed istiod's serving certificate",
     "make sure the caBundle is set correctly on the webhook (restart istiod so it "
     "patches it back)",
     "the TLS handshake from the API server to istiod on 15017, verified against the "
     "webhook configuration's caBundle",
     "tls_unknown_authority", ExplainPath::webhook, unknown_authority,
     "x509 certificate signed by unknown authority cabundle webhook"},
    {"stale_validating_webhook", "A validating webhook left by an uninstalled revision",
     "a validating webhook from an old, uninstalled version of Istio or Cloud Service "
     "Mesh interferes with the upgrade or installation",
     "check every webhook in the cluster (kubectl get "
     "validatingwebhookconfigurations,mutatingwebhookconfigurations) and delete those "
     "that refer to the uninstalled version",
     "the webhook configurations: each must call the Service of an installed revision",
     kube::kStaleRevision, ExplainPath::validator, stale_validating_webhook,
     "failed to update validatingwebhookconfiguration istio-validator failurepolicy "
     "resourceversion operation cannot be fulfilled validatingwebhookconfigurations "
     "admissionregistration object has been modified apply your changes latest version"},
    {"webhook_deadline", "The API server's call to the webhook ran out of time",
     "on private clusters, port 15017 must be open: the control plane cannot reach "
     "istiod's webhook port",
     "check the firewall rules: they must allow connections from the control plane to "
     "istiod on port 15017 (on a private cluster, open the port for the control plane's "
     "range)",
     "the API server (control plane) to the nodes running istiod, on 15017", "webhook_timeout",
     ExplainPath::webhook, webhook_deadline,
     "error from server internalerror internal error occurred failed calling webhook "
     "sidecar-injector post inject context deadline exceeded"},
    {"discovery_address", "The discovery address is wrong",
     "the discovery address given to the sidecar injector is wrong: the proxy's xDS "
     "stream does not reach istiod",
     "make sure the discovery address in the mesh ProxyConfig is right and points to "
     "the istiod Service (port 15012)",
     "the proxy to istiod's xDS port 15012, at the mesh ProxyConfig's discoveryAddress",
     "grpc_not_h2", ExplainPath::discovery, discovery_address,
     "no healthy upstream grpc config stream closed discovery address proxyconfig xds"},
    {"rejected_configuration", "The proxy rejected the configuration istiod pushed",
     "invalid configuration pushed to the proxy: it was delivered, and the proxy "
     "rejected it (the count of rejected updates per xDS type: cds clusters, lds "
     "listeners)",
     "find what the rejected configuration came from: the proxy's log names the reason "
     "(usually a warning about the Envoy configuration); a common cause is an invalid "
     "EnvoyFilter (kubectl get envoyfilter -A). Without a clear reason, file a bug with "
     "the proxy's config dump",
     "the proxy's own configuration (its listeners), not the network: the xDS stream to "
     "istiod on 15012 delivered it",
     "", ExplainPath::proxy_config, rejected_configuration,
     "envoy proxy is not ready config not received from pilot running cds lds updates "
     "successful rejected envoyfilter"},
}};

std::string lowered(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool is_name_char(char c) {
  return std::islower(static_cast<unsigned char>(c)) ||
         std::isdigit(static_cast<unsigned char>(c)) || c == '-';
}

// The run of DNS-label characters starting at `at`.
std::string_view label_at(std::string_view text, std::size_t at) {
  std::size_t end = at;
  while (end < text.size() && is_name_char(text[end])) ++end;
  return text.substr(at, end - at);
}

std::string_view digits_at(std::string_view text, std::size_t at) {
  std::size_t end = at;
  while (end < text.size() && std::isdigit(static_cast<unsigned char>(text[end]))) ++end;
  return text.substr(at, end - at);
}

// istiod's Service as the text names it: `istiod-REV.NS.svc:PORT` in a URL
// or an address, or `istiod` alone (`service 'istiod'`). The first one with
// its namespace wins over a bare name.
void find_service(std::string_view text, ExplainFound& found) {
  bool with_namespace = false;
  for (std::size_t at = text.find("istiod"); at != std::string_view::npos;
       at = text.find("istiod", at + 1)) {
    if (at > 0 && (is_name_char(text[at - 1]) || text[at - 1] == '.')) continue;
    std::string_view name = label_at(text, at);
    while (name.ends_with('-')) name.remove_suffix(1);
    if (name != "istiod" && !name.starts_with("istiod-")) continue;
    std::size_t after = at + name.size();
    std::string_view ns;
    std::string_view port;
    if (after < text.size() && text[after] == '.') {
      ns = label_at(text, after + 1);
      const std::size_t svc = after + 1 + ns.size();
      if (ns.empty() || !text.substr(svc).starts_with(".svc")) {
        ns = {};
      } else {
        after = svc + 4;
        if (text.substr(after).starts_with(".cluster.local")) after += 14;
        if (after < text.size() && text[after] == ':') port = digits_at(text, after + 1);
      }
    }
    if (with_namespace || (!found.service.empty() && ns.empty())) continue;
    found.service = std::string(name);
    found.service_namespace = std::string(ns);
    found.port = std::string(port);
    found.revision = name.size() > 7 ? std::string(name.substr(7)) : std::string();
    with_namespace = !ns.empty();
  }
}

// The validating webhook configuration an update failed on:
// `validatingwebhookconfiguration NAME (` or `...k8s.io "NAME"`.
std::string validator_name(std::string_view text) {
  constexpr std::string_view kUpdate = "validatingwebhookconfiguration ";
  if (const std::size_t at = text.find(kUpdate); at != std::string_view::npos) {
    const std::size_t from = at + kUpdate.size();
    const std::size_t end = text.find_first_of(" (:\n", from);
    return std::string(text.substr(from, end == std::string_view::npos ? end : end - from));
  }
  constexpr std::string_view kObject =
      "validatingwebhookconfigurations.admissionregistration.k8s.io \"";
  if (const std::size_t at = text.find(kObject); at != std::string_view::npos) {
    const std::size_t from = at + kObject.size();
    const std::size_t end = text.find('"', from);
    if (end != std::string_view::npos) return std::string(text.substr(from, end - from));
  }
  return {};
}

// istio-validator-REV-NS (istioctl's name for a revision's validator): the
// revision and namespace, unless the name is the guide's template
// (`istio-validator-asm-[version-n]-istio-system`).
void read_validator_name(std::string_view name, ExplainFound& found) {
  constexpr std::string_view kPrefix = "istio-validator-";
  constexpr std::string_view kIstioSystem = "-istio-system";
  if (!name.starts_with(kPrefix) || name.find_first_of("[]") != std::string_view::npos) return;
  std::string_view rest = name.substr(kPrefix.size());
  if (rest.ends_with(kIstioSystem)) {
    rest.remove_suffix(kIstioSystem.size());
    if (found.service_namespace.empty()) found.service_namespace = "istio-system";
  } else if (rest == "istio-system") {
    rest = {};
    if (found.service_namespace.empty()) found.service_namespace = "istio-system";
  }
  if (found.revision.empty()) found.revision = std::string(rest);
}

bool is_octet(std::string_view digits) {
  return !digits.empty() && digits.size() <= 3 && std::stoi(std::string(digits)) <= 255;
}

// Dotted-quad IPv4 addresses (`dial tcp 10.96.3.4:443`), each once, in order.
std::vector<std::string> find_ips(std::string_view text) {
  std::vector<std::string> ips;
  const auto boundary = [&](std::size_t i) {
    return i >= text.size() ||
           !(std::isdigit(static_cast<unsigned char>(text[i])) || text[i] == '.' ||
             std::isalpha(static_cast<unsigned char>(text[i])));
  };
  for (std::size_t at = 0; at < text.size(); ++at) {
    if (!std::isdigit(static_cast<unsigned char>(text[at]))) continue;
    if (at > 0 && !boundary(at - 1)) continue;
    std::size_t i = at;
    int octets = 0;
    while (octets < 4) {
      const std::string_view octet = digits_at(text, i);
      if (!is_octet(octet)) break;
      i += octet.size();
      ++octets;
      if (octets < 4) {
        if (i >= text.size() || text[i] != '.') break;
        ++i;
      }
    }
    if (octets == 4 && boundary(i)) {
      std::string ip(text.substr(at, i - at));
      if (std::find(ips.begin(), ips.end(), ip) == ips.end()) ips.push_back(std::move(ip));
      at = i;
    } else {
      at += digits_at(text, at).size();
    }
  }
  return ips;
}

const ExplainRow* row_for_call(const kube::WebhookCallError& call) {
  const std::string_view wanted = code(call.diagnosis);
  for (const ExplainRow& row : kRows) {
    if (row.path == ExplainPath::webhook && row.diagnosis == wanted) return &row;
  }
  return nullptr;
}

std::string host_of(const ExplainFound& found) {
  const std::string service = !found.service.empty()   ? found.service
                              : found.revision.empty() ? std::string("istiod")
                                                       : "istiod-" + found.revision;
  const std::string ns = found.service_namespace.empty() ? "istio-system" : found.service_namespace;
  return service + "." + ns + ".svc";
}

constexpr std::string_view kKubeconfigCheck = "meshprobe check --kubeconfig ~/.kube/config";

std::vector<std::string> check_commands(const ExplainRow& row, const ExplainFound& found) {
  switch (row.path) {
    case ExplainPath::webhook: {
      std::string through_api_server(kKubeconfigCheck);
      if (!found.revision.empty()) through_api_server += " --revision " + found.revision;
      const std::string port = found.port.empty() ? "15017" : found.port;
      return {through_api_server,
              "meshprobe check https://" + host_of(found) + ":" + port + "/ready"};
    }
    case ExplainPath::validator:
      // The hygiene checks name each webhook that calls a missing Service;
      // --revision would aim the probes at the uninstalled revision.
      return {std::string(kKubeconfigCheck)};
    case ExplainPath::discovery: {
      // The second reads the mesh config's discovery address and probes
      // exactly that, with the hygiene's discovery_address_stale.
      const std::string port = found.port.empty() ? "15012" : found.port;
      return {"meshprobe check grpc://" + host_of(found) + ":" + port,
              std::string(kKubeconfigCheck)};
    }
    case ExplainPath::proxy_config: {
      const std::string port = found.port.empty() ? "15012" : found.port;
      return {"meshprobe check grpc://" + host_of(found) + ":" + port};
    }
  }
  return {};
}

std::set<std::string> words_of(std::string_view lowered_text) {
  static const std::set<std::string, std::less<>> kCommon = {
      "from", "with", "that", "this", "have", "error", "failed", "while", "your",
  };
  std::set<std::string> words;
  std::size_t at = 0;
  while (at < lowered_text.size()) {
    while (at < lowered_text.size() &&
           !std::isalnum(static_cast<unsigned char>(lowered_text[at]))) {
      ++at;
    }
    std::size_t end = at;
    while (
        end < lowered_text.size() &&
        (std::isalnum(static_cast<unsigned char>(lowered_text[end])) || lowered_text[end] == '-')) {
      ++end;
    }
    std::string word(lowered_text.substr(at, end - at));
    if (word.size() >= 4 && !kCommon.contains(word)) words.insert(std::move(word));
    at = end;
  }
  return words;
}

std::vector<const ExplainRow*> closest_rows(std::string_view lowered_text) {
  const std::set<std::string> text_words = words_of(lowered_text);
  std::vector<std::pair<std::size_t, const ExplainRow*>> scored;
  for (const ExplainRow& row : kRows) {
    std::size_t shared = 0;
    for (const std::string& word : words_of(row.words)) shared += text_words.count(word);
    if (shared > 0) scored.emplace_back(shared, &row);
  }
  std::stable_sort(scored.begin(), scored.end(),
                   [](const auto& a, const auto& b) { return a.first > b.first; });
  std::vector<const ExplainRow*> closest;
  for (std::size_t i = 0; i < scored.size() && i < 3; ++i) closest.push_back(scored[i].second);
  return closest;
}

}  // namespace

std::span<const ExplainRow> explain_rows() { return kRows; }

Explanation explain(std::string_view text) {
  Explanation result;
  const std::string lower = lowered(text);
  find_service(lower, result.found);
  const std::string validator = validator_name(text);
  if (!validator.empty()) {
    result.found.webhook = validator;
    read_validator_name(lowered(validator), result.found);
  }
  result.found.ips = find_ips(text);

  std::set<const ExplainRow*> matched;
  std::size_t begin = 0;
  while (begin <= text.size()) {
    std::size_t end = text.find('\n', begin);
    if (end == std::string_view::npos) end = text.size();
    const std::string_view line = text.substr(begin, end - begin);
    const std::string_view lowered_line = std::string_view(lower).substr(begin, end - begin);
    // A webhook-call error is judged in the API server's words (the error
    // under the call names the layer); the other rows by their strings.
    const auto call = kube::parse_webhook_call_error(line);
    const ExplainRow* call_row = call ? row_for_call(*call) : nullptr;
    if (call && result.found.webhook.empty()) result.found.webhook = call->webhook;
    if (call_row != nullptr) {
      matched.insert(call_row);
    } else {
      for (const ExplainRow& row : kRows) {
        if (row.matches(lowered_line)) matched.insert(&row);
      }
    }
    begin = end + 1;
  }
  for (const ExplainRow& row : kRows) {
    if (matched.contains(&row)) result.matches.push_back({&row, check_commands(row, result.found)});
  }
  if (result.matches.empty()) result.closest = closest_rows(lower);
  return result;
}

namespace {

std::string doc_of(const ExplainRow& row) {
  return row.diagnosis.empty() ? std::string() : doc_link(row.diagnosis);
}

boost::json::object row_json(const ExplainRow& row) {
  return {{"id", row.id},         {"title", row.title}, {"cause", row.cause},
          {"remedy", row.remedy}, {"hop", row.hop},     {"diagnosis", row.diagnosis},
          {"doc", doc_of(row)}};
}

boost::json::object found_json(const ExplainFound& found) {
  boost::json::array ips;
  for (const std::string& ip : found.ips) ips.emplace_back(ip);
  return {{"service", found.service},   {"namespace", found.service_namespace},
          {"revision", found.revision}, {"port", found.port},
          {"ips", std::move(ips)},      {"webhook", found.webhook}};
}

std::string found_text(const ExplainFound& found) {
  std::string out;
  const auto add = [&](std::string_view what, std::string_view value) {
    if (value.empty()) return;
    if (!out.empty()) out += ", ";
    out += what;
    out += ' ';
    out += value;
  };
  add("Service", found.service.empty() || found.service_namespace.empty()
                     ? found.service
                     : found.service + "." + found.service_namespace + ".svc");
  add("port", found.port);
  add("revision", found.revision);
  std::string ips;
  for (const std::string& ip : found.ips) ips += (ips.empty() ? "" : " ") + ip;
  add("IPs", ips);
  add("webhook", found.webhook);
  return out;
}

boost::json::object explanation_json(const Explanation& explanation) {
  boost::json::array matches;
  for (const ExplainMatch& match : explanation.matches) {
    boost::json::object entry = row_json(*match.row);
    boost::json::array commands;
    for (const std::string& command : match.check_commands) commands.emplace_back(command);
    entry["check_command"] = match.check_commands.front();
    entry["check_commands"] = std::move(commands);
    entry["found"] = found_json(explanation.found);
    matches.push_back(std::move(entry));
  }
  boost::json::array closest;
  for (const ExplainRow* row : explanation.closest) closest.push_back(row_json(*row));
  return {{"recognised", !explanation.matches.empty()},
          {"matches", std::move(matches)},
          {"closest", std::move(closest)}};
}

}  // namespace

int print_explanation(const Explanation& explanation, OutputFormat output, std::ostream& out) {
  const bool recognised = !explanation.matches.empty();
  if (output == OutputFormat::json) {
    out << boost::json::serialize(explanation_json(explanation)) << "\n";
    return recognised ? 0 : 1;
  }

  if (!recognised) {
    out << "not recognised: no row of the troubleshooting guide matches this text\n";
    if (explanation.closest.empty()) {
      out << "no row shares a word with it\n";
    } else {
      out << "closest rows:\n";
      for (const ExplainRow* row : explanation.closest) {
        out << "  " << row->id << ": " << row->title << "\n";
      }
    }
    return 1;
  }
  const std::string found = found_text(explanation.found);
  for (const ExplainMatch& match : explanation.matches) {
    const ExplainRow& row = *match.row;
    out << row.id << ": " << row.title << "\n";
    out << "  cause:     " << row.cause << "\n";
    out << "  remedy:    " << row.remedy << "\n";
    out << "  hop:       " << row.hop << "\n";
    if (!row.diagnosis.empty()) {
      out << "  diagnosis: " << row.diagnosis << " (" << doc_of(row) << ")\n";
    }
    if (!found.empty()) out << "  found:     " << found << "\n";
    for (std::size_t i = 0; i < match.check_commands.size(); ++i) {
      out << (i == 0 ? "  check:     " : "             ") << match.check_commands[i] << "\n";
    }
  }
  return 0;
}

CheckOptions explain_check_options(const Explanation& explanation,
                                   const ExplainCheckOptions& options, OutputFormat output) {
  CheckOptions check;
  check.kubeconfig = options.kubeconfig;
  check.output = output;
  check.revision = options.revision;
  if (check.revision.empty()) {
    const bool on_webhook_path =
        std::any_of(explanation.matches.begin(), explanation.matches.end(),
                    [](const ExplainMatch& m) { return m.row->path == ExplainPath::webhook; });
    if (on_webhook_path) check.revision = explanation.found.revision;
  }
  return check;
}

std::string explain_check_command(const CheckOptions& check) {
  std::string command = "meshprobe check --kubeconfig " + check.kubeconfig;
  if (!check.revision.empty()) command += " --revision " + check.revision;
  return command;
}

int explain_and_check(const Explanation& explanation, const ExplainCheckOptions& options,
                      OutputFormat output, std::ostream& out, std::ostream& err) {
  if (explanation.matches.empty()) {
    print_explanation(explanation, output, out);
    return kExplainNotRecognised;
  }
  const CheckOptions check = explain_check_options(explanation, options, output);
  const std::string command = explain_check_command(check);
  // Declared before the session: its connection's workers hand results to `io`.
  boost::asio::io_context io;
  auto session = CheckSession::open(check, io, err);
  if (!session) {
    err << "meshprobe explain: " << session.error().message << "\n";
    return kExplainUsage;
  }
  const CheckRound round = (*session)->run_round();
  const std::string report = render_check_report(round, (*session)->vantage(), check);
  const int code = round.passed() ? kExplainRecognised : kExplainChecksFailed;

  if (output == OutputFormat::json) {
    boost::json::object document = explanation_json(explanation);
    boost::json::value checked = boost::json::parse(report);
    boost::json::object checks{
        {"command", command}, {"passed", round.passed()}, {"report", checked}};
    document["checks"] = std::move(checks);
    if (const auto* verdicts = checked.as_object().if_contains("verdicts")) {
      document["verdicts"] = *verdicts;
    } else {
      document["verdicts"] = boost::json::array();
    }
    out << boost::json::serialize(document) << "\n";
    return code;
  }
  print_explanation(explanation, output, out);
  out << "\nchecked: " << command << "\n" << report;
  out << (round.passed() ? "verdict: every check passed: the path this error names works now\n"
                         : "verdict: a check failed or found something (above): that is the "
                           "hop to fix\n");
  return code;
}

}  // namespace meshprobe
