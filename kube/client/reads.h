// The reads meshprobe makes from the Kubernetes API, typed. Lists are paged
// (`limit`/`continue`); 401 and 403 come back as messages that name the
// credentials or the missing RBAC verb and resource; a 404 on a single
// object is an answer (the object does not exist), not an error.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/expected.h"
#include "kube/client/api_client.h"
#include "kube/client/list_watch.h"
#include "kube/client/objects.h"

namespace meshprobe::kube {

// The RBAC rule one kind of request needs.
struct ApiAccess {
  std::string_view verb;      // get, list
  std::string_view group;     // "" for the core group
  std::string_view resource;  // plural, with subresource: "services/proxy"
  bool namespaced = false;
  // Set for a request made in this namespace only, whatever the istio
  // namespace is (the `kubernetes` Service's slices: "default").
  std::string_view only_namespace = {};
};

namespace access {
inline constexpr std::string_view kAdmission = "admissionregistration.k8s.io";
inline constexpr ApiAccess kGetMutating{"get", kAdmission, "mutatingwebhookconfigurations", false};
inline constexpr ApiAccess kListMutating{"list", kAdmission, "mutatingwebhookconfigurations",
                                         false};
inline constexpr ApiAccess kGetValidating{"get", kAdmission, "validatingwebhookconfigurations",
                                          false};
inline constexpr ApiAccess kListValidating{"list", kAdmission, "validatingwebhookconfigurations",
                                           false};
inline constexpr ApiAccess kListNamespaces{"list", "", "namespaces", false};
inline constexpr ApiAccess kGetService{"get", "", "services", true};
inline constexpr ApiAccess kListServices{"list", "", "services", true};
inline constexpr ApiAccess kListEndpointSlices{"list", "discovery.k8s.io", "endpointslices", true};
inline constexpr ApiAccess kGetConfigMap{"get", "", "configmaps", true};
// The agent lists and watches what it reads (kube/client/list_watch.h); one
// ConfigMap or Service is a list with fieldSelector=metadata.name=NAME,
// which RBAC's resourceNames still restricts.
inline constexpr ApiAccess kListConfigMaps{"list", "", "configmaps", true};
inline constexpr ApiAccess kWatchMutating{"watch", kAdmission, "mutatingwebhookconfigurations",
                                          false};
inline constexpr ApiAccess kWatchValidating{"watch", kAdmission, "validatingwebhookconfigurations",
                                            false};
inline constexpr ApiAccess kWatchNamespaces{"watch", "", "namespaces", false};
inline constexpr ApiAccess kWatchServices{"watch", "", "services", true};
inline constexpr ApiAccess kWatchEndpointSlices{"watch", "discovery.k8s.io", "endpointslices",
                                                true};
inline constexpr ApiAccess kWatchConfigMaps{"watch", "", "configmaps", true};
// The FailedCreate events of every namespace (one list with a field
// selector per read), and the pods of the namespaces selected for injection
// plus those labelled sidecar.istio.io/inject=true anywhere. Which
// namespaces are selected changes with their labels, so pods are granted by
// the ClusterRole (cluster-wide), not a Role per namespace.
inline constexpr ApiAccess kListEvents{"list", "", "events", false};
inline constexpr ApiAccess kListPods{"list", "", "pods", false};
inline constexpr ApiAccess kWatchEvents{"watch", "", "events", false};
inline constexpr ApiAccess kWatchPods{"watch", "", "pods", false};
inline constexpr ApiAccess kGetServiceProxy{"get", "", "services/proxy", true};
inline constexpr ApiAccess kGetPodProxy{"get", "", "pods/proxy", true};
// The control plane's context for the webhook verdicts: one node's
// providerID (the platform) and the API server's own addresses.
inline constexpr ApiAccess kListNodes{"list", "", "nodes", false};
inline constexpr ApiAccess kListKubernetesEndpointSlices{"list", "discovery.k8s.io",
                                                         "endpointslices", true, "default"};
inline constexpr ApiAccess kWatchKubernetesEndpointSlices{"watch", "discovery.k8s.io",
                                                          "endpointslices", true, "default"};
// `check --create-canary`, with the user's own credentials only.
inline constexpr ApiAccess kCreateNamespaces{"create", "", "namespaces", false};
// The dry-run creates of admission targets, in the canary namespace only.
inline constexpr ApiAccess kCreatePods{"create", "", "pods", true};
inline constexpr ApiAccess kCreateGateways{"create", "networking.istio.io", "gateways", true};
}  // namespace access

// Every kind of read KubeApi makes: deploy/rbac.yaml grants exactly these.
std::span<const ApiAccess> all_api_access();
// The dry-run creates of admission targets: the apiserver-vantage
// component's Role grants exactly these, in the canary namespace.
std::span<const ApiAccess> admission_api_access();

// "verb \"get\" on \"configmaps\" in namespace \"istio-system\"".
std::string describe_access(const ApiAccess& access, std::string_view ns);

// Explains a failed API response: "forbidden: meshprobe needs RBAC verb ...".
std::string describe_failure(const HttpResponse& response, const ApiAccess& access,
                             std::string_view ns, std::string_view server);

class KubeApi {
 public:
  // `cancel`, when given, abandons every request once set (agent shutdown).
  explicit KubeApi(ApiClient& client, const std::atomic<bool>* cancel = nullptr,
                   std::size_t page_size = 500)
      : client_(client), cancel_(cancel), page_size_(page_size) {}

  // Once a read finds the API server unreachable (after its retries), the
  // reads that follow fail at once with the same message instead of each
  // waiting out its own retries. For one batch of reads (a snapshot); not
  // for an instance shared between threads.
  void give_up_when_unreachable() { give_up_when_unreachable_ = true; }

  // Lists (and single ConfigMaps, Services and webhook configurations, as
  // lists by name) are answered by `cache`: listed once, then watched. The
  // proxy GETs and dry-run creates are probes and always go to the server.
  void serve_lists_from(WatchCache* cache) { cache_ = cache; }

  Expected<std::optional<WebhookConfiguration>> get_webhook_configuration(WebhookKind kind,
                                                                          const std::string& name);
  Expected<std::vector<WebhookConfiguration>> list_webhook_configurations(WebhookKind kind);
  Expected<std::vector<Namespace>> list_namespaces();
  // One namespace, by a list with a field selector (the `list namespaces`
  // that hygiene needs, not another verb); nullopt when it does not exist.
  Expected<std::optional<Namespace>> find_namespace(const std::string& name);
  // A real create (not a dry run): `check --create-canary` only, with the
  // user's credentials, never the agent's.
  Expected<Namespace> create_namespace(const std::string& name, const Labels& labels);
  Expected<std::optional<Service>> get_service(const std::string& ns, const std::string& name);
  Expected<std::vector<Service>> list_services(const std::string& ns);
  // The slices labelled kubernetes.io/service-name=SERVICE.
  Expected<std::vector<EndpointSlice>> list_endpoint_slices(const std::string& ns,
                                                            const std::string& service);
  // The slices of Service default/kubernetes: the API server's own addresses.
  Expected<std::vector<EndpointSlice>> list_kubernetes_endpoint_slices();
  // One page of at most `limit` nodes, not the whole list: a large cluster's
  // nodes are megabytes, and one node's providerID names the platform.
  Expected<std::vector<Node>> list_some_nodes(std::size_t limit);
  Expected<std::optional<ConfigMap>> get_config_map(const std::string& ns, const std::string& name);
  // Every Event with reason FailedCreate, cluster-wide (fieldSelector
  // reason=FailedCreate: the API server filters, only those cross the wire).
  Expected<std::vector<Event>> list_failed_create_events();
  // The pods of namespace `ns`, paged.
  Expected<std::vector<Pod>> list_pods(const std::string& ns);
  // The pods of every namespace that carry `label_selector`, paged.
  Expected<std::vector<Pod>> list_pods_labelled(const std::string& label_selector);

  // A GET through a proxy subresource, answered as is: its 502/503/504 are
  // what the proxy probe measures, so nothing is retried.
  HttpResponse proxy_get(const std::string& path, const RequestOptions& request);

  // A server-side dry run of creating `object_json` at `collection_path`
  // (e.g. /api/v1/namespaces/NS/pods): the API server runs its admission
  // chain and persists nothing. dryRun=All is added here, so no caller can
  // create for real. Not retried: a 500 is the webhook failure measured.
  HttpResponse dry_run_create(const std::string& collection_path, const std::string& object_json,
                              const RequestOptions& request);

  ApiClient& client() { return client_; }

 private:
  template <class T, class Parse>
  Expected<std::vector<T>> list(const std::string& path, const ApiAccess& access,
                                const std::string& ns, Parse parse);
  template <class T, class Parse>
  Expected<std::optional<T>> get_one(const std::string& path, const ApiAccess& access,
                                     const std::string& ns, Parse parse);
  // With the cache: the object named `name` of `collection` by a list.
  template <class T, class ParseList>
  Expected<std::optional<T>> find_by_name(const std::string& collection, const std::string& name,
                                          const ApiAccess& access, const std::string& ns,
                                          ParseList parse_list);

  RequestOptions request() const;
  // The response of one GET, or the earlier "unreachable" failure.
  HttpResponse get(const std::string& path);

  ApiClient& client_;
  const std::atomic<bool>* cancel_;
  std::size_t page_size_;
  bool give_up_when_unreachable_ = false;
  WatchCache* cache_ = nullptr;
  std::optional<HttpResponse> unreachable_;
};

// Percent-encodes a query parameter value or a path segment.
std::string url_encode(std::string_view text);

}  // namespace meshprobe::kube
