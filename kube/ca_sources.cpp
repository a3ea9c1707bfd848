#include "kube/ca_sources.h"

#include "common/text.h"
#include "kube/client/reads.h"

namespace meshprobe::kube {
namespace {

Expected<FetchedCa> from_webhook(KubeApi& api, const CaSourceRef& ref, WebhookKind kind) {
  auto config = api.get_webhook_configuration(kind, ref.name);
  if (!config) return config.error();
  if (!*config) {
    return Error{std::string(kind_name(kind)) + " " + in_quotes(ref.name) + " not found"};
  }
  const Webhook* hook = find_webhook(**config, ref.webhook);
  if (hook == nullptr) {
    return Error{(*config)->object() + (ref.webhook.empty()
                                            ? std::string(" has no webhooks")
                                            : " has no webhook " + in_quotes(ref.webhook))};
  }
  return FetchedCa{hook->ca_bundle_pem, ref.describe()};
}

}  // namespace

std::string CaSourceRef::describe() const {
  switch (kind) {
    case Kind::mutating_webhook:
    case Kind::validating_webhook:
      return std::string(kind_name(kind == Kind::mutating_webhook ? WebhookKind::mutating
                                                                  : WebhookKind::validating)) +
             "/" + name +
             (webhook.empty() ? std::string(" (first webhook)") : " webhook " + webhook) +
             " caBundle";
    case Kind::configmap: return "ConfigMap " + ns + "/" + name + " key " + key;
  }
  return name;
}

const Webhook* find_webhook(const WebhookConfiguration& config, const std::string& name) {
  if (config.webhooks.empty()) return nullptr;
  if (name.empty()) return &config.webhooks.front();
  for (const Webhook& hook : config.webhooks) {
    if (hook.name == name) return &hook;
  }
  return nullptr;
}

Expected<FetchedCa> fetch_ca(KubeApi& api, const CaSourceRef& ref) {
  switch (ref.kind) {
    case CaSourceRef::Kind::mutating_webhook: return from_webhook(api, ref, WebhookKind::mutating);
    case CaSourceRef::Kind::validating_webhook:
      return from_webhook(api, ref, WebhookKind::validating);
    case CaSourceRef::Kind::configmap: {
      auto map = api.get_config_map(ref.ns, ref.name);
      if (!map) return map.error();
      if (!*map) return Error{"ConfigMap " + ref.ns + "/" + ref.name + " not found"};
      auto value = (*map)->data.find(ref.key);
      if (value == (*map)->data.end()) {
        return Error{"ConfigMap " + ref.ns + "/" + ref.name + " has no key " + in_quotes(ref.key)};
      }
      return FetchedCa{value->second, ref.describe()};
    }
  }
  return Error{"unknown CA source"};
}

}  // namespace meshprobe::kube
