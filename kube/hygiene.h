// Webhook hygiene, from the troubleshooting steps of the guide meshprobe
// answers (Istio's sidecar-injection and webhook troubleshooting):
// over every Mutating/ValidatingWebhookConfiguration whose webhooks call a
// Service in istio's namespace, and over the namespaces labelled for
// injection. Pure functions of what was read, so they are tested on JSON
// fixtures; the caller reads the cluster and runs the TLS checks.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/expected.h"
#include "kube/client/objects.h"
#include "kube/endpoint_discovery.h"
#include "kube/mesh_config.h"
#include "probes/diagnosis.h"

namespace meshprobe::kube {

class KubeApi;

inline constexpr std::string_view kCaBundleMissing = "webhook_ca_bundle_missing";
inline constexpr std::string_view kStaleRevision = "webhook_stale_revision";
inline constexpr std::string_view kCaMismatch = "webhook_ca_mismatch";
inline constexpr std::string_view kInjectionLabelUnmatched = "injection_label_unmatched";
inline constexpr std::string_view kValidationNotEnforced = "webhook_validation_not_enforced";
inline constexpr std::string_view kSidecarMissing = "sidecar_missing";
// The mesh config's discovery address names a Service that does not exist.
inline constexpr std::string_view kDiscoveryAddressStale = "discovery_address_stale";

// In the order findings are listed.
inline constexpr std::array<std::string_view, 7> kHygieneCodes = {
    kCaBundleMissing,       kStaleRevision,  kCaMismatch,           kInjectionLabelUnmatched,
    kValidationNotEnforced, kSidecarMissing, kDiscoveryAddressStale};

std::string_view hygiene_remedy(std::string_view code);

struct Finding {
  std::string code;     // one of kHygieneCodes
  std::string object;   // KIND/NAME
  std::string webhook;  // the webhook entry; empty for namespaces
  std::string message;
  std::string remedy;
  bool operator==(const Finding&) const = default;
};

// The lists the checks read from the cluster, each on its own: one that
// fails (a 403, a kind the API server does not serve) costs only the checks
// that need it.
// mesh_config: the mesh ConfigMap and the Service its discovery address names.
enum class ViewRead : std::uint8_t {
  mutating,
  validating,
  namespaces,
  services,
  pods,
  mesh_config
};

// What the checks read from the cluster.
struct ClusterView {
  std::string istio_namespace = "istio-system";
  std::vector<WebhookConfiguration> mutating;
  std::vector<WebhookConfiguration> validating;
  std::vector<Namespace> namespaces;
  std::set<std::string> services;  // Service names in istio_namespace
  // The running pods without a sidecar (missing_sidecar) in the namespaces
  // selected for injection (pods_to_read), and those labelled
  // sidecar.istio.io/inject=true elsewhere; the others are not kept.
  std::vector<Pod> sidecarless_pods;
  // The revision's discovery address (kube/mesh_config.h); unset when its
  // read failed (see `unread`).
  std::optional<MeshDiscovery> mesh_discovery;
  // The discovery addresses injected pods override in their
  // proxy.istio.io/config annotation (of the pods read for sidecar_missing),
  // with their Services resolved.
  std::vector<MeshDiscovery> pod_discoveries;
  // The reads that failed, with why (the API server's words); a read not
  // here succeeded.
  std::map<ViewRead, std::string> unread;

  bool has(ViewRead read) const { return !unread.contains(read); }
};

// Lists webhook configurations, namespaces, the istio namespace's Services
// and the pods of pods_to_read, and reads the mesh config of `revision`
// (empty: the default revision's `istio`); a read that fails is recorded in
// `unread` and the others are still read.
ClusterView read_cluster_view(KubeApi& api, const std::string& istio_namespace,
                              const std::string& revision = "");

// Whether the injector would have put a sidecar into `pod` and it has none:
// a running pod, not on the host network, that did not opt out
// (sidecar.istio.io/inject=false, as a label or an annotation), with no
// istio-proxy container (nor a native sidecar: an istio-proxy init container
// with restartPolicy Always).
bool missing_sidecar(const Pod& pod);

// The namespaces whose pods sidecar_missing lists: labelled for injection
// (istio-injection=enabled, or istio.io/rev) and selected by an injector
// webhook's namespaceSelector. Needs the mutating configurations and the
// namespaces of `view`.
std::vector<std::string> pods_to_read(const ClusterView& view);

// The pod label that asks for a sidecar wherever the namespace is not
// disabled: read with one cluster-wide list.
inline constexpr std::string_view kInjectPodSelector = "sidecar.istio.io/inject=true";

// At most this many pods are named in a sidecar_missing finding.
inline constexpr std::size_t kSidecarMissingNamed = 3;

// One hygiene check per code, named by it (the `check` label of
// meshprobe_hygiene_check_success). A check runs when its `needs` were read
// (without them a finding could be false), on whichever of its `covers` were
// read (those only bound what it sees); it is complete when all of both were.
struct HygieneCheck {
  std::string_view name;    // the code of its findings
  std::uint8_t needs = 0;   // bits of ViewRead
  std::uint8_t covers = 0;  // bits of ViewRead
};

// In kHygieneCodes order, one per code.
const std::array<HygieneCheck, kHygieneCodes.size()>& hygiene_checks();

bool check_runs(const ClusterView& view, std::string_view check);
bool check_complete(const ClusterView& view, std::string_view check);

// A check that could not run, or ran on part of what it needs: which, why
// (the API server's words) and the RBAC rules the check needs ("verb
// \"list\" on \"namespaces\" (cluster-wide)"). Also what a check could not
// verify (a caBundle whose istiod endpoints did not answer), with no RBAC.
struct CheckNote {
  std::string check;  // one of kHygieneCodes
  std::string message;
  std::vector<std::string> rbac;
  bool operator==(const CheckNote&) const = default;
};

// One note per check that is not complete, in check order.
std::vector<CheckNote> incomplete_check_notes(const ClusterView& view);

// The RBAC rules `check` needs, described as describe_access does.
std::vector<std::string> check_rbac(std::string_view check, const std::string& istio_namespace);

// Every finding that needs no connection to istiod: a missing caBundle, a
// webhook calling a Service that does not exist, a validating webhook left at
// failurePolicy Ignore, a namespace labelled for injection that no injector
// webhook selects, a namespace with running pods that have no sidecar (one
// finding per namespace, the earliest created named first). Only the checks that run (check_runs)
// report. Sorted by code order, object, webhook.
// webhook selects, a discovery address whose Service does not exist. Only the checks that run
// (check_runs) report. Sorted by code order, object, webhook.
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

// In-scope webhooks with a caBundle whose Service exists; none when the
// webhook_ca_mismatch check does not run.
std::vector<CaCheck> ca_checks(const ClusterView& view);

// The probe outcomes that prove a mismatch: the chain does not verify.
bool shows_ca_mismatch(Diagnosis diagnosis);

// One webhook_ca_mismatch finding per user of `check`; `evidence` says what
// was seen (address and the verifier's words).
std::vector<Finding> ca_mismatch_findings(const CaCheck& check, std::string_view evidence);

// Orders findings as check_webhooks does (for merged lists).
void sort_findings(std::vector<Finding>& findings);

}  // namespace meshprobe::kube
