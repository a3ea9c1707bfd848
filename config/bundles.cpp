// The agent config's `ca_bundles`: each a local source (a PEM file, PEM
// text, the system store), loaded here, or a Kubernetes one (a webhook
// configuration's caBundle, a ConfigMap key), read from the API at run time.
#include <memory>
#include <string>
#include <utility>

#include "config/parser.h"

namespace meshprobe::config_parser {
namespace {

// Every key of a CA bundle: its sources, of which it names exactly one, and
// `webhook` and `key`, which refine the Kubernetes ones.
constexpr std::string_view kCaBundleKeys[] = {
    "file",      "pem",     "system", "mutating_webhook", "validating_webhook",
    "configmap", "webhook", "key"};

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

}  // namespace

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
    fail((file  ? file
          : pem ? pem
                : system)
             ->value_line(),
         loaded.error().message, loaded.error().system_error);
  }
  source.bundle = std::move(*loaded);
  return source;
}

void Parser::read_kubernetes_bundle(const Section& keys, CaBundleSource& source) const {
  const Entry* mutating = keys.find("mutating_webhook");
  const Entry* validating = keys.find("validating_webhook");
  const Entry* configmap = keys.find("configmap");
  const Entry* webhook = keys.find("webhook");
  const Entry* key = keys.find("key");
  if (webhook && !mutating && !validating) {
    fail(webhook->line,
         "\"webhook\" names an entry of a webhook configuration: it goes with "
         "\"mutating_webhook\" or \"validating_webhook\"");
  }
  if (key && !configmap) {
    fail(key->line, "\"key\" names a ConfigMap key: it goes with \"configmap\"");
  }
  if (mutating || validating) {
    source.kind = mutating ? CaSourceKind::mutating_webhook : CaSourceKind::validating_webhook;
    source.object_name = kubernetes_name(*(mutating ? mutating : validating), 253, true,
                                         "webhook configuration name");
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

}  // namespace meshprobe::config_parser
