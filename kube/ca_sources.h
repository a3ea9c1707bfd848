// CA bundles that live in the cluster: the caBundle of a webhook entry of a
// Mutating/ValidatingWebhookConfiguration (what the API server trusts when
// it calls istiod) and a ConfigMap key (istio-ca-root-cert/root-cert.pem,
// what proxies trust on 15012).
#pragma once

#include <string>

#include "common/expected.h"
#include "kube/client/objects.h"

namespace meshprobe::kube {

class KubeApi;

struct CaSourceRef {
  enum class Kind { mutating_webhook, validating_webhook, configmap };
  Kind kind = Kind::mutating_webhook;
  std::string name;     // the configuration's or ConfigMap's name
  std::string webhook;  // webhook sources: the entry's name; empty: the first entry
  std::string ns;       // configmap: its namespace
  std::string key;      // configmap: the data key

  // "MutatingWebhookConfiguration/istio-sidecar-injector webhook X caBundle".
  std::string describe() const;
};

struct FetchedCa {
  // Empty when the webhook entry has no caBundle: the API server then
  // trusts nothing, and neither should the probe.
  std::string pem;
  std::string source;  // describe(), for messages and CaBundle::source()
};

// The PEM text a source holds now. Fails when the object, the entry or the
// key does not exist, or the API refuses the read.
Expected<FetchedCa> fetch_ca(KubeApi& api, const CaSourceRef& ref);

// The webhook entry `name` (empty: the first) of `config`; nullptr if none.
const Webhook* find_webhook(const WebhookConfiguration& config, const std::string& name);

}  // namespace meshprobe::kube
