// The Kubernetes objects meshprobe reads, reduced to the fields it uses, as
// plain structs: the rest of meshprobe never sees JSON. Field meanings follow
// the API reference (admissionregistration.k8s.io/v1, core/v1,
// discovery.k8s.io/v1).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/expected.h"

namespace meshprobe::kube {

using Labels = std::map<std::string, std::string>;

// metav1.LabelSelector: matchLabels and matchExpressions, ANDed.
struct LabelRequirement {
  std::string key;
  std::string op;  // In, NotIn, Exists, DoesNotExist
  std::vector<std::string> values;
};

struct LabelSelector {
  Labels match_labels;
  std::vector<LabelRequirement> match_expressions;

  // As the API server evaluates it; an unknown operator matches nothing.
  bool matches(const Labels& labels) const;
};

enum class WebhookKind { mutating, validating };
std::string_view kind_name(WebhookKind kind);  // "MutatingWebhookConfiguration"

struct ServiceReference {
  std::string ns;
  std::string name;
  std::string path;          // empty when unset
  std::uint16_t port = 443;  // the API's default
};

struct Webhook {
  std::string name;
  std::optional<ServiceReference> service;  // unset: the webhook calls a URL
  std::string url;
  std::string ca_bundle_pem;            // decoded caBundle; empty when unset
  std::string failure_policy = "Fail";  // the v1 default
  // Unset means every namespace, as in the API.
  std::optional<LabelSelector> namespace_selector;
};

struct WebhookConfiguration {
  WebhookKind kind = WebhookKind::mutating;
  std::string name;
  Labels labels;
  std::vector<Webhook> webhooks;

  // "MutatingWebhookConfiguration/NAME": how findings name it.
  std::string object() const;
};

// A Service port's targetPort: a number, or the name of a container port.
struct TargetPort {
  std::uint16_t number = 0;  // 0 when named
  std::string name;
};

struct ServicePort {
  std::string name;
  std::uint16_t port = 0;
  std::string protocol = "TCP";
  TargetPort target_port;  // the API defaults it to `port`
};

struct Service {
  std::string ns;
  std::string name;
  std::string cluster_ip;
  std::vector<ServicePort> ports;
};

struct EndpointPort {
  std::string name;        // the Service port's name
  std::uint16_t port = 0;  // 0: unset (every port)
  std::string protocol = "TCP";
};

struct Endpoint {
  std::vector<std::string> addresses;
  // conditions; an unset `ready` is to be read as ready (API reference).
  bool ready = true;
  bool serving = true;
  bool terminating = false;
  std::string pod;  // targetRef.name when targetRef.kind is Pod
  std::string node;
  std::string zone;
};

struct EndpointSlice {
  std::string name;
  std::string address_type;  // IPv4, IPv6 or FQDN
  std::vector<Endpoint> endpoints;
  std::vector<EndpointPort> ports;
};

struct Namespace {
  std::string name;
  Labels labels;
};

// A container of a Pod, as far as meshprobe looks at it.
struct Container {
  std::string name;
  std::string restart_policy;  // init containers: "Always" makes a native sidecar
};

struct Pod {
  std::string ns;
  std::string name;
  Labels labels;
  std::map<std::string, std::string> annotations;
  std::string creation_timestamp;  // RFC 3339, as the API wrote it
  std::vector<Container> containers;
  std::vector<Container> init_containers;
  bool host_network = false;
  std::string phase;  // status.phase: Pending, Running, ...
};

// A core/v1 Event, as far as meshprobe reads it (the FailedCreate events of
// controllers whose creates an admission webhook failed).
struct Event {
  std::string ns;
  std::string name;
  std::string uid;
  std::string involved_kind;  // involvedObject: ReplicaSet, DaemonSet, Job, ...
  std::string involved_ns;
  std::string involved_name;
  std::string reason;   // FailedCreate
  std::string message;  // the controller's words: "Error creating: ..."
  std::string type;     // Warning, Normal
  // How many times it happened; the API server folds repeats into one Event.
  std::int64_t count = 1;
  // RFC 3339 as written; lastTimestamp falls back to eventTime (events.k8s.io
  // writers leave the legacy fields null).
  std::string first_timestamp;
  std::string last_timestamp;
};

// A Node, for what it says of the platform (spec.providerID: `gce://...`,
// `aws:///...`, `azure:///...`; empty on kind and bare metal).
struct Node {
  std::string name;
  std::string provider_id;
};

struct ConfigMap {
  std::string ns;
  std::string name;
  std::map<std::string, std::string> data;
};

// One page of a list: its items and metadata.continue.
template <class T>
struct ListPage {
  std::vector<T> items;
  std::string continue_token;
};

// Parsers for the API's JSON documents: single objects and list pages. They
// fail on JSON that is not the named kind's shape; unknown fields are ignored.
Expected<WebhookConfiguration> parse_webhook_configuration(std::string_view json, WebhookKind kind);
Expected<ListPage<WebhookConfiguration>> parse_webhook_configuration_list(std::string_view json,
                                                                          WebhookKind kind);
Expected<Service> parse_service(std::string_view json);
Expected<ListPage<Service>> parse_service_list(std::string_view json);
Expected<ListPage<EndpointSlice>> parse_endpoint_slice_list(std::string_view json);
Expected<ListPage<Namespace>> parse_namespace_list(std::string_view json);
Expected<ListPage<Node>> parse_node_list(std::string_view json);
Expected<ConfigMap> parse_config_map(std::string_view json);
Expected<ListPage<ConfigMap>> parse_config_map_list(std::string_view json);
Expected<Pod> parse_pod(std::string_view json);
Expected<ListPage<Pod>> parse_pod_list(std::string_view json);
Expected<ListPage<Event>> parse_event_list(std::string_view json);

// A metav1.Status document (what the API server sends with 4xx/5xx).
struct Status {
  long code = 0;
  std::string reason;  // Forbidden, NotFound, Unauthorized, ServiceUnavailable, ...
  std::string message;
};
// nullopt when `json` is not a Status object.
std::optional<Status> parse_status(std::string_view json);

}  // namespace meshprobe::kube
