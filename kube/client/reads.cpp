#include "kube/client/reads.h"

#include <boost/json.hpp>

#include <array>

#include "common/text.h"

namespace meshprobe::kube {
namespace {

using namespace access;

constexpr std::array kAllAccess = {
    kGetMutating,
    kListMutating,
    kGetValidating,
    kListValidating,
    kListNamespaces,
    kGetService,
    kListServices,
    kListEndpointSlices,
    kGetConfigMap,
    kListEvents,
    kListPods,
    kGetServiceProxy,
    kGetPodProxy,
    kListNodes,
    kListKubernetesEndpointSlices,
    kListConfigMaps,
    kWatchMutating,
    kWatchValidating,
    kWatchNamespaces,
    kWatchServices,
    kWatchEndpointSlices,
    kWatchConfigMaps,
    kWatchEvents,
    kWatchPods,
    kWatchKubernetesEndpointSlices,
};

std::string endpoint_slices_path(const std::string& ns, const std::string& service) {
  return "/apis/discovery.k8s.io/v1/namespaces/" + url_encode(ns) +
         "/endpointslices?labelSelector=" + url_encode("kubernetes.io/service-name=" + service);
}

std::string webhook_path(WebhookKind kind) {
  return std::string("/apis/admissionregistration.k8s.io/v1/") +
         (kind == WebhookKind::mutating ? "mutatingwebhookconfigurations"
                                        : "validatingwebhookconfigurations");
}

// What the server said, for the end of a message: a Status's message, else
// the start of the body.
std::string server_words(const HttpResponse& response) {
  if (auto status = parse_status(response.body); status && !status->message.empty()) {
    return status->message;
  }
  std::string body = response.body.substr(0, 200);
  for (char& c : body) {
    if (static_cast<unsigned char>(c) < 0x20) c = ' ';
  }
  return body;
}

}  // namespace

std::span<const ApiAccess> all_api_access() { return kAllAccess; }

std::span<const ApiAccess> admission_api_access() {
  static constexpr ApiAccess kAdmissionAccess[] = {access::kCreatePods, access::kCreateGateways};
  return kAdmissionAccess;
}

std::string describe_access(const ApiAccess& access, std::string_view ns) {
  std::string out = "verb " + in_quotes(access.verb) + " on " + in_quotes(access.resource);
  if (!access.group.empty()) out += " in API group " + in_quotes(access.group);
  const std::string_view where = access.only_namespace.empty() ? ns : access.only_namespace;
  out += access.namespaced ? " in namespace " + in_quotes(where) : std::string(" (cluster-wide)");
  return out;
}

std::string describe_failure(const HttpResponse& response, const ApiAccess& access,
                             std::string_view ns, std::string_view server) {
  if (response.credential_error) {
    return "no credentials for the Kubernetes API server " + std::string(server) + ": " +
           response.error;
  }
  if (response.status == 0) {
    return "cannot reach the Kubernetes API server " + std::string(server) + ": " + response.error +
           (response.attempts > 1 ? " (after " + std::to_string(response.attempts) + " attempts)"
                                  : std::string());
  }
  const std::string said = server_words(response);
  switch (response.status) {
    case 401:
      return "unauthorized (401): the API server rejected meshprobe's credentials (an expired "
             "or revoked token, or a client certificate it does not trust): " +
             said;
    case 403:
      return "forbidden (403): meshprobe needs RBAC " + describe_access(access, ns) +
             " (see deploy/rbac.yaml); the API server said: " + said;
    case 404: return "not found (404): " + said;
    default:
      return "the API server answered " + std::to_string(response.status) + " to " +
             std::string(access.verb) + " " + std::string(access.resource) + ": " + said;
  }
}

std::string url_encode(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : text) {
    const bool unreserved = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                            (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' || c == '~';
    if (unreserved) {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 0xf];
    }
  }
  return out;
}

RequestOptions KubeApi::request() const {
  RequestOptions options;
  options.cancel = cancel_;
  return options;
}

HttpResponse KubeApi::get(const std::string& path) {
  if (unreachable_) return *unreachable_;
  HttpResponse response = client_.get(path, request());
  if (give_up_when_unreachable_ && response.status == 0 && !response.cancelled) {
    unreachable_ = response;
  }
  return response;
}

template <class T, class Parse>
Expected<std::vector<T>> KubeApi::list(const std::string& path, const ApiAccess& access,
                                       const std::string& ns, Parse parse) {
  if (cache_ != nullptr) {
    CachedList cached = cache_->list(path);
    if (!cached.ok) {
      return Error{describe_failure(cached.failure, access, ns, client_.credentials().server)};
    }
    auto all = parse(cached.body);
    if (!all) return all.error();
    return std::move(all->items);
  }
  std::vector<T> items;
  std::string continue_token;
  bool restarted = false;
  const char separator = path.find('?') == std::string::npos ? '?' : '&';
  for (;;) {
    std::string page_path = path + separator + "limit=" + std::to_string(page_size_);
    if (!continue_token.empty()) page_path += "&continue=" + url_encode(continue_token);
    const HttpResponse response = get(page_path);
    // 410: the continue token expired (the list changed too much while we
    // paged through it). The API's advice is to start over; once is enough.
    if (response.status == 410 && !continue_token.empty() && !restarted) {
      restarted = true;
      items.clear();
      continue_token.clear();
      continue;
    }
    if (response.status != 200) {
      return Error{describe_failure(response, access, ns, client_.credentials().server)};
    }
    auto page = parse(response.body);
    if (!page) return page.error();
    std::move(page->items.begin(), page->items.end(), std::back_inserter(items));
    if (page->continue_token.empty()) return items;
    continue_token = std::move(page->continue_token);
  }
}

template <class T, class Parse>
Expected<std::optional<T>> KubeApi::get_one(const std::string& path, const ApiAccess& access,
                                            const std::string& ns, Parse parse) {
  const HttpResponse response = get(path);
  if (response.status == 404) {
    // A 404 that is not the API's NotFound Status (a wrong server URL, a
    // proxy in the way) must not pass for "the object does not exist".
    auto status = parse_status(response.body);
    if (status && status->reason == "NotFound") return std::optional<T>();
  }
  if (response.status != 200) {
    return Error{describe_failure(response, access, ns, client_.credentials().server)};
  }
  auto object = parse(response.body);
  if (!object) return object.error();
  return std::optional<T>(std::move(*object));
}

template <class T, class ParseList>
Expected<std::optional<T>> KubeApi::find_by_name(const std::string& collection,
                                                 const std::string& name, const ApiAccess& access,
                                                 const std::string& ns, ParseList parse_list) {
  auto found = list<T>(collection + "?fieldSelector=" + url_encode("metadata.name=" + name), access,
                       ns, parse_list);
  if (!found) return found.error();
  for (T& item : *found) {
    if (item.name == name) return std::optional<T>(std::move(item));
  }
  return std::optional<T>();
}

Expected<std::optional<WebhookConfiguration>> KubeApi::get_webhook_configuration(
    WebhookKind kind, const std::string& name) {
  if (cache_ != nullptr) {
    return find_by_name<WebhookConfiguration>(
        webhook_path(kind), name, kind == WebhookKind::mutating ? kListMutating : kListValidating,
        "", [kind](std::string_view body) { return parse_webhook_configuration_list(body, kind); });
  }
  return get_one<WebhookConfiguration>(
      webhook_path(kind) + "/" + url_encode(name),
      kind == WebhookKind::mutating ? kGetMutating : kGetValidating, "",
      [kind](std::string_view body) { return parse_webhook_configuration(body, kind); });
}

Expected<std::vector<WebhookConfiguration>> KubeApi::list_webhook_configurations(WebhookKind kind) {
  return list<WebhookConfiguration>(
      webhook_path(kind), kind == WebhookKind::mutating ? kListMutating : kListValidating, "",
      [kind](std::string_view body) { return parse_webhook_configuration_list(body, kind); });
}

Expected<std::vector<Namespace>> KubeApi::list_namespaces() {
  return list<Namespace>("/api/v1/namespaces", kListNamespaces, "", parse_namespace_list);
}

Expected<std::optional<Namespace>> KubeApi::find_namespace(const std::string& name) {
  auto found =
      list<Namespace>("/api/v1/namespaces?fieldSelector=" + url_encode("metadata.name=" + name),
                      kListNamespaces, "", parse_namespace_list);
  if (!found) return found.error();
  for (Namespace& ns : *found) {
    if (ns.name == name) return std::optional<Namespace>(std::move(ns));
  }
  return std::optional<Namespace>();
}

Expected<Namespace> KubeApi::create_namespace(const std::string& name, const Labels& labels) {
  boost::json::object metadata{{"name", name}};
  boost::json::object label_object;
  for (const auto& [key, value] : labels) label_object[key] = value;
  metadata["labels"] = std::move(label_object);
  const std::string body = boost::json::serialize(
      boost::json::object{{"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", metadata}});
  RequestOptions once = request();
  once.retry = false;  // a create is not repeated blindly
  const HttpResponse response = client_.post("/api/v1/namespaces", body, once);
  if (response.status != 201 && response.status != 200) {
    return Error{describe_failure(response, kCreateNamespaces, "", client_.credentials().server)};
  }
  return Namespace{name, labels};
}

Expected<std::optional<Service>> KubeApi::get_service(const std::string& ns,
                                                      const std::string& name) {
  if (cache_ != nullptr) {
    return find_by_name<Service>("/api/v1/namespaces/" + url_encode(ns) + "/services", name,
                                 kListServices, ns, parse_service_list);
  }
  return get_one<Service>("/api/v1/namespaces/" + url_encode(ns) + "/services/" + url_encode(name),
                          kGetService, ns, parse_service);
}

Expected<std::vector<Service>> KubeApi::list_services(const std::string& ns) {
  return list<Service>("/api/v1/namespaces/" + url_encode(ns) + "/services", kListServices, ns,
                       parse_service_list);
}

Expected<std::vector<EndpointSlice>> KubeApi::list_endpoint_slices(const std::string& ns,
                                                                   const std::string& service) {
  return list<EndpointSlice>(endpoint_slices_path(ns, service), kListEndpointSlices, ns,
                             parse_endpoint_slice_list);
}

Expected<std::vector<EndpointSlice>> KubeApi::list_kubernetes_endpoint_slices() {
  const std::string ns(kListKubernetesEndpointSlices.only_namespace);
  return list<EndpointSlice>(endpoint_slices_path(ns, "kubernetes"), kListKubernetesEndpointSlices,
                             ns, parse_endpoint_slice_list);
}

Expected<std::vector<Node>> KubeApi::list_some_nodes(std::size_t limit) {
  // The platform does not change under a running agent: with the cache,
  // read once an hour, not watched.
  const std::string path = "/api/v1/nodes?limit=" + std::to_string(limit);
  const HttpResponse response =
      cache_ != nullptr ? cache_->remembered_get(path, std::chrono::hours(1)) : get(path);
  if (response.status != 200) {
    return Error{describe_failure(response, kListNodes, "", client_.credentials().server)};
  }
  auto page = parse_node_list(response.body);
  if (!page) return page.error();
  return std::move(page->items);
}

Expected<std::optional<ConfigMap>> KubeApi::get_config_map(const std::string& ns,
                                                           const std::string& name) {
  if (cache_ != nullptr) {
    return find_by_name<ConfigMap>("/api/v1/namespaces/" + url_encode(ns) + "/configmaps", name,
                                   kListConfigMaps, ns, parse_config_map_list);
  }
  return get_one<ConfigMap>(
      "/api/v1/namespaces/" + url_encode(ns) + "/configmaps/" + url_encode(name), kGetConfigMap, ns,
      parse_config_map);
}

Expected<std::vector<Event>> KubeApi::list_failed_create_events() {
  return list<Event>("/api/v1/events?fieldSelector=" + url_encode("reason=FailedCreate"),
                     kListEvents, "", parse_event_list);
}

Expected<std::vector<Pod>> KubeApi::list_pods(const std::string& ns) {
  return list<Pod>("/api/v1/namespaces/" + url_encode(ns) + "/pods", kListPods, "", parse_pod_list);
}

Expected<std::vector<Pod>> KubeApi::list_pods_labelled(const std::string& label_selector) {
  return list<Pod>("/api/v1/pods?labelSelector=" + url_encode(label_selector), kListPods, "",
                   parse_pod_list);
}

HttpResponse KubeApi::proxy_get(const std::string& path, const RequestOptions& request) {
  RequestOptions once = request;
  once.retry = false;
  return client_.get(path, once);
}

HttpResponse KubeApi::dry_run_create(const std::string& collection_path,
                                     const std::string& object_json,
                                     const RequestOptions& request) {
  RequestOptions once = request;
  once.retry = false;
  return client_.post(collection_path + "?dryRun=All&fieldManager=meshprobe", object_json, once);
}

}  // namespace meshprobe::kube
