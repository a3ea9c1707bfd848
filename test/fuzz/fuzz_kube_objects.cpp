// The Kubernetes API's JSON, as the API server (or something in its place)
// sends it: webhook configurations and their lists, Services, EndpointSlice
// lists, Namespace lists, ConfigMaps and Status error bodies. Every decoder
// may refuse a document (an Error), never crash, hang or throw; what it
// accepts then goes through the code that consumes it (endpoint discovery,
// the hygiene checks, the failure messages), as in Kubernetes mode. A Status
// message (and the raw text, as an event's message) is also read as a
// webhook call that failed or denied (kube/webhook_call_error.h).
//
// An input is one document, or two separated by a NUL byte (JSON text has
// none): a Service and its EndpointSlices, or webhooks and the namespaces
// they select. Each part is offered to every decoder.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "config/service_host.h"
#include "kube/client/objects.h"
#include "kube/client/reads.h"
#include "kube/endpoint_discovery.h"
#include "kube/hygiene.h"
#include "kube/webhook_call_error.h"

namespace {

using namespace meshprobe::kube;

void check(bool condition) {
  if (!condition) __builtin_trap();
}

struct Decoded {
  ClusterView view;
  std::vector<Service> services;
  std::vector<EndpointSlice> slices;
};

void add_configuration(Decoded& out, WebhookConfiguration config) {
  check(config.object().starts_with(kind_name(config.kind)));
  (config.kind == WebhookKind::mutating ? out.view.mutating : out.view.validating)
      .push_back(std::move(config));
}

void add_service(Decoded& out, Service service) {
  out.view.services.insert(service.name);
  out.services.push_back(std::move(service));
}

// The parts it returns are pieces of the message, kept verbatim.
void read_webhook_words(std::string_view message) {
  if (auto call = parse_webhook_call_error(message)) {
    check(call->message == message && !call->webhook.empty());
    check(call->webhook.size() + call->url.size() + call->error.size() <= message.size());
  }
  if (auto denial = parse_webhook_denial(message)) {
    check(denial->message == message && !denial->webhook.empty());
    check(denial->webhook.size() + denial->reason.size() <= message.size());
  }
}

void decode(std::string_view text, Decoded& out) {
  for (const WebhookKind kind : {WebhookKind::mutating, WebhookKind::validating}) {
    if (auto config = parse_webhook_configuration(text, kind)) {
      check(config->kind == kind);
      add_configuration(out, std::move(*config));
    } else {
      check(!config.error().message.empty());
    }
    if (auto page = parse_webhook_configuration_list(text, kind)) {
      for (WebhookConfiguration& config : page->items) add_configuration(out, std::move(config));
    }
  }
  if (auto service = parse_service(text)) add_service(out, std::move(*service));
  if (auto page = parse_service_list(text)) {
    for (Service& service : page->items) add_service(out, std::move(service));
  }
  if (auto page = parse_endpoint_slice_list(text)) {
    for (EndpointSlice& slice : page->items) out.slices.push_back(std::move(slice));
  }
  if (auto page = parse_namespace_list(text)) {
    for (Namespace& ns : page->items) out.view.namespaces.push_back(std::move(ns));
  }
  if (auto page = parse_node_list(text)) {
    for (const Node& node : page->items) check(node.provider_id.size() <= text.size());
  }
  if (auto map = parse_config_map(text)) {
    for (const auto& [key, value] : map->data) check(key.size() + value.size() <= text.size());
  }

  // A Status body in every failure message KubeApi writes.
  const std::optional<Status> status = parse_status(text);
  read_webhook_words(status ? std::string_view(status->message) : text);
  HttpResponse response;
  response.body = std::string(text);
  for (const long code : {401L, 403L, 404L, 410L, 500L}) {
    response.status = status && status->code >= 400 && status->code < 600 ? status->code : code;
    const std::string message =
        describe_failure(response, access::kGetConfigMap, "istio-system", "https://k8s");
    check(!message.empty());
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  Decoded decoded;
  const std::size_t split = input.find('\0');
  decode(input.substr(0, split), decoded);
  if (split != std::string_view::npos) decode(input.substr(split + 1), decoded);

  // What Kubernetes mode does with the objects it read.
  for (const Service& service : decoded.services) {
    std::vector<std::uint16_t> ports = {443, 15012, 15017};
    for (const ServicePort& port : service.ports) ports.push_back(port.port);
    for (const std::uint16_t port : ports) {
      if (auto endpoints = endpoints_of(service, port, decoded.slices)) {
        for (const DiscoveredEndpoint& endpoint : endpoints->endpoints) {
          check(canonical_ip(endpoint.address) == endpoint.address);
        }
      }
    }
    if (auto name = meshprobe::parse_service_host(service.name + "." + service.ns + ".svc")) {
      check(name->host().ends_with(".svc"));
    }
  }
  const std::vector<Finding> findings = check_webhooks(decoded.view);
  for (const Finding& finding : findings) check(!hygiene_remedy(finding.code).empty());
  for (const CaCheck& ca : ca_checks(decoded.view)) {
    check(!ca.users.empty() && !ca.ca_bundle_pem.empty());
    const std::vector<Finding> mismatch = ca_mismatch_findings(ca, "fuzz");
    check(mismatch.size() == ca.users.size());
  }
  return 0;
}
