// Webhook hygiene, from the troubleshooting steps of the guide meshprobe
// answers (Istio's sidecar-injection and webhook troubleshooting):
// over every Mutating/ValidatingWebhookConfiguration whose webhooks call a
// Service in istio's namespace, and over the namespaces labelled for
// injection. Pure functions of what was read, so they are tested on JSON
// fixtures; the caller reads the cluster and runs the TLS checks.
#pragma once

#include <array>
#include <cstdint>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/expected.h"
#include "kube/client/objects.h"
#include "kube/endpoint_discovery.h"
#include "probes/diagnosis.h"

namespace meshprobe::kube {

class KubeApi;

inline constexpr std::string_view kCaBundleMissing = "webhook_ca_bundle_missing";
inline constexpr std::string_view kStaleRevision = "webhook_stale_revision";
inline constexpr std::string_view kCaMismatch = "webhook_ca_mismatch";
inline constexpr std::string_view kInjectionLabelUnmatched = "injection_label_unmatched";
inline constexpr std::string_view kValidationNotEnforced = "webhook_validation_not_enforced";

// In the order findings are listed.
inline constexpr std::array<std::string_view, 5> kHygieneCodes = {
    kCaBundleMissing, kStaleRevision, kCaMismatch, kInjectionLabelUnmatched,
    kValidationNotEnforced};

std::string_view hygiene_remedy(std::string_view code);

struct Finding {
  std::string code;     // one of kHygieneCodes
  std::string object;   // KIND/NAME
  std::string webhook;  // the webhook entry; empty for namespaces
  std::string message;
  std::string remedy;
  bool operator==(const Finding&) const = default;
};

// What the checks read from the cluster.
struct ClusterView {
  std::string istio_namespace = "istio-system";
  std::vector<WebhookConfiguration> mutating;
  std::vector<WebhookConfiguration> validating;
  std::vector<Namespace> namespaces;
  std::set<std::string> services;  // Service names in istio_namespace
};

// Lists webhook configurations, namespaces and the istio namespace's Services.
Expected<ClusterView> read_cluster_view(KubeApi& api, const std::string& istio_namespace);

// Every finding that needs no connection to istiod: a missing caBundle, a
// webhook calling a Service that does not exist, a validating webhook left at
// failurePolicy Ignore, a namespace labelled for injection that no injector
// webhook selects. Sorted by code order, object, webhook.
std::vector<Finding> check_webhooks(const ClusterView& view);

// Whether a caBundle verifies what istiod serves is learned by a TLS
// handshake with the webhook's Service endpoints, verified against that
// caBundle. One check per distinct (Service, port, caBundle); `users` are
// the webhook entries that share it.
struct CaCheck {
  ServiceName service;
  std::uint16_t port = 443;  // the Service port the webhook calls
  std::string ca_bundle_pem;
  std::vector<std::pair<std::string, std::string>> users;  // (object, webhook)
};

// In-scope webhooks with a caBundle whose Service exists.
std::vector<CaCheck> ca_checks(const ClusterView& view);

// The probe outcomes that prove a mismatch: the chain does not verify.
bool shows_ca_mismatch(Diagnosis diagnosis);

// One webhook_ca_mismatch finding per user of `check`; `evidence` says what
// was seen (address and the verifier's words).
std::vector<Finding> ca_mismatch_findings(const CaCheck& check, std::string_view evidence);

// Orders findings as check_webhooks does (for merged lists).
void sort_findings(std::vector<Finding>& findings);

}  // namespace meshprobe::kube
