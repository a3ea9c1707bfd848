// JSON to the plain structs of objects.h. Lenient where the API is (missing
// optional fields take the API's defaults, unknown fields are ignored),
// strict where a wrong type means the document is not what was asked for.
#include <boost/json.hpp>

#include <algorithm>

#include "common/base64.h"
#include "kube/client/objects.h"

namespace meshprobe::kube {
namespace {

namespace json = boost::json;

// Thrown inside this file only, caught at the parse_* boundary.
struct ShapeError {
  std::string message;
};

[[noreturn]] void shape_error(std::string message) { throw ShapeError{std::move(message)}; }

const json::object& as_object(const json::value& value, std::string_view what) {
  if (!value.is_object()) shape_error(std::string(what) + " is not an object");
  return value.get_object();
}

const json::value* field(const json::object& object, std::string_view key) {
  const json::value* value = object.if_contains(key);
  return value == nullptr || value->is_null() ? nullptr : value;
}

std::string string_field(const json::object& object, std::string_view key,
                         std::string fallback = {}) {
  const json::value* value = field(object, key);
  if (value == nullptr) return fallback;
  if (!value->is_string()) shape_error("\"" + std::string(key) + "\" is not a string");
  return std::string(value->get_string());
}

std::optional<bool> bool_field(const json::object& object, std::string_view key) {
  const json::value* value = field(object, key);
  if (value == nullptr) return std::nullopt;
  if (!value->is_bool()) shape_error("\"" + std::string(key) + "\" is not a boolean");
  return value->get_bool();
}

std::uint16_t port_number(const json::value& value, std::string_view key) {
  std::int64_t number = 0;
  if (value.is_int64()) {
    number = value.get_int64();
  } else if (value.is_uint64()) {
    number = static_cast<std::int64_t>(std::min<std::uint64_t>(value.get_uint64(), 1u << 20));
  } else {
    shape_error("\"" + std::string(key) + "\" is not a number");
  }
  if (number < 0 || number > 65535) shape_error("\"" + std::string(key) + "\" is not a port");
  return static_cast<std::uint16_t>(number);
}

std::uint16_t port_field(const json::object& object, std::string_view key, std::uint16_t fallback) {
  const json::value* value = field(object, key);
  return value == nullptr ? fallback : port_number(*value, key);
}

const json::array* array_field(const json::object& object, std::string_view key) {
  const json::value* value = field(object, key);
  if (value == nullptr) return nullptr;
  if (!value->is_array()) shape_error("\"" + std::string(key) + "\" is not a list");
  return &value->get_array();
}

const json::object* object_field(const json::object& object, std::string_view key) {
  const json::value* value = field(object, key);
  if (value == nullptr) return nullptr;
  return &as_object(*value, "\"" + std::string(key) + "\"");
}

std::map<std::string, std::string> string_map(const json::object* object, std::string_view what) {
  std::map<std::string, std::string> out;
  if (object == nullptr) return out;
  for (const auto& [key, value] : *object) {
    if (!value.is_string()) shape_error(std::string(what) + " value is not a string");
    out.emplace(std::string(key), std::string(value.get_string()));
  }
  return out;
}

const json::object& metadata(const json::object& object) {
  const json::object* meta = object_field(object, "metadata");
  if (meta == nullptr) shape_error("no metadata");
  return *meta;
}

void expect_kind(const json::object& object, std::string_view kind) {
  const std::string found = string_field(object, "kind");
  // Items inside lists carry no kind; a top-level document must carry its own.
  if (found != kind) {
    shape_error("expected a " + std::string(kind) + ", got " +
                (found.empty() ? std::string("a document without kind") : found));
  }
}

json::value parse_document(std::string_view text) {
  boost::system::error_code ec;
  json::value value = json::parse(text, ec);
  if (ec) shape_error("not JSON: " + ec.message());
  return value;
}

LabelSelector label_selector(const json::object& object) {
  LabelSelector selector;
  selector.match_labels = string_map(object_field(object, "matchLabels"), "matchLabels");
  if (const json::array* expressions = array_field(object, "matchExpressions")) {
    for (const json::value& item : *expressions) {
      const json::object& expression = as_object(item, "a matchExpressions item");
      LabelRequirement requirement;
      requirement.key = string_field(expression, "key");
      requirement.op = string_field(expression, "operator");
      if (const json::array* values = array_field(expression, "values")) {
        for (const json::value& value : *values) {
          if (!value.is_string()) shape_error("a matchExpressions value is not a string");
          requirement.values.emplace_back(value.get_string());
        }
      }
      selector.match_expressions.push_back(std::move(requirement));
    }
  }
  return selector;
}

Webhook webhook(const json::object& object) {
  Webhook hook;
  hook.name = string_field(object, "name");
  hook.failure_policy = string_field(object, "failurePolicy", "Fail");
  if (const json::object* selector = object_field(object, "namespaceSelector")) {
    hook.namespace_selector = label_selector(*selector);
  }
  const json::object* client = object_field(object, "clientConfig");
  if (client == nullptr) shape_error("webhook \"" + hook.name + "\" has no clientConfig");
  hook.url = string_field(*client, "url");
  if (const json::object* service = object_field(*client, "service")) {
    ServiceReference reference;
    reference.ns = string_field(*service, "namespace");
    reference.name = string_field(*service, "name");
    reference.path = string_field(*service, "path");
    reference.port = port_field(*service, "port", 443);
    hook.service = std::move(reference);
  }
  const std::string bundle = string_field(*client, "caBundle");
  if (!bundle.empty()) {
    auto decoded = base64_decode(bundle);
    if (!decoded) shape_error("the caBundle of webhook \"" + hook.name + "\" is not base64");
    hook.ca_bundle_pem = std::move(*decoded);
  }
  return hook;
}

WebhookConfiguration webhook_configuration(const json::object& object, WebhookKind kind) {
  WebhookConfiguration config;
  config.kind = kind;
  const json::object& meta = metadata(object);
  config.name = string_field(meta, "name");
  config.labels = string_map(object_field(meta, "labels"), "a label");
  if (const json::array* hooks = array_field(object, "webhooks")) {
    for (const json::value& item : *hooks) {
      config.webhooks.push_back(webhook(as_object(item, "a webhook")));
    }
  }
  return config;
}

Service service(const json::object& object) {
  Service svc;
  const json::object& meta = metadata(object);
  svc.name = string_field(meta, "name");
  svc.ns = string_field(meta, "namespace");
  const json::object* spec = object_field(object, "spec");
  if (spec == nullptr) return svc;
  svc.cluster_ip = string_field(*spec, "clusterIP");
  if (const json::array* ports = array_field(*spec, "ports")) {
    for (const json::value& item : *ports) {
      const json::object& entry = as_object(item, "a Service port");
      ServicePort port;
      port.name = string_field(entry, "name");
      port.protocol = string_field(entry, "protocol", "TCP");
      port.port = port_field(entry, "port", 0);
      port.target_port.number = port.port;  // the API's default
      if (const json::value* target = field(entry, "targetPort")) {
        if (target->is_string()) {
          port.target_port = {0, std::string(target->get_string())};
        } else {
          port.target_port = {port_number(*target, "targetPort"), {}};
        }
      }
      svc.ports.push_back(std::move(port));
    }
  }
  return svc;
}

EndpointSlice endpoint_slice(const json::object& object) {
  EndpointSlice slice;
  slice.name = string_field(metadata(object), "name");
  slice.address_type = string_field(object, "addressType");
  if (const json::array* endpoints = array_field(object, "endpoints")) {
    for (const json::value& item : *endpoints) {
      const json::object& entry = as_object(item, "an endpoint");
      Endpoint endpoint;
      if (const json::array* addresses = array_field(entry, "addresses")) {
        for (const json::value& address : *addresses) {
          if (!address.is_string()) shape_error("an endpoint address is not a string");
          endpoint.addresses.emplace_back(address.get_string());
        }
      }
      if (const json::object* conditions = object_field(entry, "conditions")) {
        endpoint.ready = bool_field(*conditions, "ready").value_or(true);
        // serving defaults to ready when unset (API reference).
        endpoint.serving = bool_field(*conditions, "serving").value_or(endpoint.ready);
        endpoint.terminating = bool_field(*conditions, "terminating").value_or(false);
      }
      if (const json::object* target = object_field(entry, "targetRef")) {
        if (string_field(*target, "kind") == "Pod") endpoint.pod = string_field(*target, "name");
      }
      endpoint.node = string_field(entry, "nodeName");
      endpoint.zone = string_field(entry, "zone");
      slice.endpoints.push_back(std::move(endpoint));
    }
  }
  if (const json::array* ports = array_field(object, "ports")) {
    for (const json::value& item : *ports) {
      const json::object& entry = as_object(item, "an EndpointSlice port");
      EndpointPort port;
      port.name = string_field(entry, "name");
      port.port = port_field(entry, "port", 0);
      port.protocol = string_field(entry, "protocol", "TCP");
      slice.ports.push_back(std::move(port));
    }
  }
  return slice;
}

Namespace namespace_of(const json::object& object) {
  const json::object& meta = metadata(object);
  return {string_field(meta, "name"), string_map(object_field(meta, "labels"), "a label")};
}

Node node_of(const json::object& object) {
  Node node;
  node.name = string_field(metadata(object), "name");
  if (const json::object* spec = object_field(object, "spec")) {
    node.provider_id = string_field(*spec, "providerID");
  }
  return node;
}

std::vector<Container> containers_of(const json::object& spec, std::string_view key) {
  std::vector<Container> out;
  if (const json::array* list = array_field(spec, key)) {
    for (const json::value& item : *list) {
      const json::object& entry = as_object(item, "a container");
      out.push_back({string_field(entry, "name"), string_field(entry, "restartPolicy")});
    }
  }
  return out;
}

Pod pod_of(const json::object& object) {
  const json::object& meta = metadata(object);
  Pod pod;
  pod.ns = string_field(meta, "namespace");
  pod.name = string_field(meta, "name");
  pod.labels = string_map(object_field(meta, "labels"), "a label");
  pod.annotations = string_map(object_field(meta, "annotations"), "an annotation");
  pod.creation_timestamp = string_field(meta, "creationTimestamp");
  if (const json::object* spec = object_field(object, "spec")) {
    pod.containers = containers_of(*spec, "containers");
    pod.init_containers = containers_of(*spec, "initContainers");
    pod.host_network = bool_field(*spec, "hostNetwork").value_or(false);
  }
  if (const json::object* status = object_field(object, "status")) {
    pod.phase = string_field(*status, "phase");
  }
  return pod;
}

std::int64_t count_field(const json::object& object, std::string_view key, std::int64_t fallback) {
  const json::value* value = field(object, key);
  if (value == nullptr) return fallback;
  if (value->is_int64()) return value->get_int64();
  if (value->is_uint64()) {
    return static_cast<std::int64_t>(
        std::min<std::uint64_t>(value->get_uint64(), std::uint64_t{1} << 62));
  }
  shape_error("\"" + std::string(key) + "\" is not a number");
}

Event event_of(const json::object& object) {
  const json::object& meta = metadata(object);
  Event event;
  event.ns = string_field(meta, "namespace");
  event.name = string_field(meta, "name");
  event.uid = string_field(meta, "uid");
  if (const json::object* involved = object_field(object, "involvedObject")) {
    event.involved_kind = string_field(*involved, "kind");
    event.involved_ns = string_field(*involved, "namespace");
    event.involved_name = string_field(*involved, "name");
  }
  event.reason = string_field(object, "reason");
  event.message = string_field(object, "message");
  event.type = string_field(object, "type");
  event.count = count_field(object, "count", 1);
  const std::string event_time = string_field(object, "eventTime");
  event.first_timestamp = string_field(object, "firstTimestamp", event_time);
  event.last_timestamp = string_field(object, "lastTimestamp", event_time);
  if (event.first_timestamp.empty()) event.first_timestamp = event.last_timestamp;
  return event;
}

ConfigMap config_map_of(const json::object& object) {
  const json::object& meta = metadata(object);
  ConfigMap map;
  map.name = string_field(meta, "name");
  map.ns = string_field(meta, "namespace");
  map.data = string_map(object_field(object, "data"), "a data");
  return map;
}

template <class T, class ItemParser>
ListPage<T> list_page(std::string_view text, std::string_view list_kind, ItemParser parse_item) {
  const json::value document = parse_document(text);
  const json::object& object = as_object(document, "the list");
  expect_kind(object, list_kind);
  ListPage<T> page;
  if (const json::object* meta = object_field(object, "metadata")) {
    page.continue_token = string_field(*meta, "continue");
  }
  if (const json::array* items = array_field(object, "items")) {
    for (const json::value& item : *items) {
      page.items.push_back(parse_item(as_object(item, "a list item")));
    }
  }
  return page;
}

template <class F>
auto guarded(std::string_view what, F parse) -> Expected<decltype(parse())> {
  try {
    return parse();
  } catch (const ShapeError& e) {
    return Error{"unexpected " + std::string(what) + " from the API server: " + e.message};
  }
}

}  // namespace

bool LabelSelector::matches(const Labels& labels) const {
  for (const auto& [key, value] : match_labels) {
    auto found = labels.find(key);
    if (found == labels.end() || found->second != value) return false;
  }
  for (const LabelRequirement& requirement : match_expressions) {
    auto found = labels.find(requirement.key);
    const bool present = found != labels.end();
    const auto listed = [&] {
      return present && std::find(requirement.values.begin(), requirement.values.end(),
                                  found->second) != requirement.values.end();
    };
    if (requirement.op == "In") {
      if (!listed()) return false;
    } else if (requirement.op == "NotIn") {
      if (listed()) return false;
    } else if (requirement.op == "Exists") {
      if (!present) return false;
    } else if (requirement.op == "DoesNotExist") {
      if (present) return false;
    } else {
      return false;
    }
  }
  return true;
}

std::string_view kind_name(WebhookKind kind) {
  return kind == WebhookKind::mutating ? "MutatingWebhookConfiguration"
                                       : "ValidatingWebhookConfiguration";
}

std::string WebhookConfiguration::object() const {
  return std::string(kind_name(kind)) + "/" + name;
}

Expected<WebhookConfiguration> parse_webhook_configuration(std::string_view text,
                                                           WebhookKind kind) {
  return guarded(kind_name(kind), [&] {
    const json::value document = parse_document(text);
    const json::object& object = as_object(document, "the document");
    expect_kind(object, kind_name(kind));
    return webhook_configuration(object, kind);
  });
}

Expected<ListPage<WebhookConfiguration>> parse_webhook_configuration_list(std::string_view text,
                                                                          WebhookKind kind) {
  const std::string list_kind = std::string(kind_name(kind)) + "List";
  return guarded(list_kind, [&] {
    return list_page<WebhookConfiguration>(
        text, list_kind, [kind](const json::object& o) { return webhook_configuration(o, kind); });
  });
}

Expected<Service> parse_service(std::string_view text) {
  return guarded("Service", [&] {
    const json::value document = parse_document(text);
    const json::object& object = as_object(document, "the document");
    expect_kind(object, "Service");
    return service(object);
  });
}

Expected<ListPage<Service>> parse_service_list(std::string_view text) {
  return guarded("ServiceList", [&] { return list_page<Service>(text, "ServiceList", service); });
}

Expected<ListPage<EndpointSlice>> parse_endpoint_slice_list(std::string_view text) {
  return guarded("EndpointSliceList", [&] {
    return list_page<EndpointSlice>(text, "EndpointSliceList", endpoint_slice);
  });
}

Expected<ListPage<Namespace>> parse_namespace_list(std::string_view text) {
  return guarded("NamespaceList",
                 [&] { return list_page<Namespace>(text, "NamespaceList", namespace_of); });
}

Expected<ListPage<Node>> parse_node_list(std::string_view text) {
  return guarded("NodeList", [&] { return list_page<Node>(text, "NodeList", node_of); });
}

Expected<ConfigMap> parse_config_map(std::string_view text) {
  return guarded("ConfigMap", [&] {
    const json::value document = parse_document(text);
    const json::object& object = as_object(document, "the document");
    expect_kind(object, "ConfigMap");
    return config_map_of(object);
  });
}

Expected<ListPage<ConfigMap>> parse_config_map_list(std::string_view text) {
  return guarded("ConfigMapList",
                 [&] { return list_page<ConfigMap>(text, "ConfigMapList", config_map_of); });
}

Expected<ListPage<Pod>> parse_pod_list(std::string_view text) {
  return guarded("PodList", [&] { return list_page<Pod>(text, "PodList", pod_of); });
}

Expected<ListPage<Event>> parse_event_list(std::string_view text) {
  return guarded("EventList", [&] { return list_page<Event>(text, "EventList", event_of); });
}

Expected<Pod> parse_pod(std::string_view text) {
  return guarded("Pod", [&] {
    const json::value document = parse_document(text);
    const json::object& object = as_object(document, "the document");
    expect_kind(object, "Pod");
    return pod_of(object);
  });
}

std::optional<Status> parse_status(std::string_view text) {
  boost::system::error_code ec;
  const json::value document = json::parse(text, ec);
  if (ec || !document.is_object()) return std::nullopt;
  const json::object& object = document.get_object();
  const json::value* kind = object.if_contains("kind");
  if (kind == nullptr || !kind->is_string() || kind->get_string() != "Status") return std::nullopt;
  Status status;
  if (const json::value* code = object.if_contains("code"); code && code->is_int64()) {
    status.code = static_cast<long>(code->get_int64());
  }
  if (const json::value* reason = object.if_contains("reason"); reason && reason->is_string()) {
    status.reason = std::string(reason->get_string());
  }
  if (const json::value* message = object.if_contains("message"); message && message->is_string()) {
    status.message = std::string(message->get_string());
  }
  return status;
}

}  // namespace meshprobe::kube
