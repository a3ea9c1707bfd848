// The API server's words for an admission webhook that failed or refused: the
// Status message of a create it rejected (`Internal error occurred: failed
// calling webhook "X": failed to call webhook: Post "URL": dial tcp ...`), or
// the same text in a FailedCreate event (`Error creating: ...`), read into
// the diagnosis catalogue. Pure text in, values out: no I/O, so the admission
// probe and the event reader share it and the fuzzer can feed it anything.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "probes/diagnosis.h"
#include "probes/result.h"

namespace meshprobe::kube {

// A webhook the API server could not call, or whose answer it could not use.
struct WebhookCallError {
  std::string webhook;  // the webhook's name: "namespace.sidecar-injector.istio.io"
  std::string url;      // what the API server posted to; empty when the message names none
  // The error under the call: Go's dial, TLS or HTTP error (`dial tcp
  // 10.96.3.4:443: i/o timeout`), the webhook's HTTP answer as the API
  // server's client put it, or why its response was refused. Empty for
  // `; no further details available`.
  std::string error;
  Diagnosis diagnosis = Diagnosis::kubernetes_api_error;
  // The layer that failed; nullopt when the API server's words do not say
  // (webhook_timeout: the deadline covers the dial and the handler alike).
  std::optional<Phase> failed_phase;
  std::string message;  // the API server's message, verbatim
};

// nullopt when `api_server_message` holds no `failed calling webhook "NAME"`
// followed by a reason (or by `; no further details available`).
std::optional<WebhookCallError> parse_webhook_call_error(std::string_view api_server_message);

// A webhook that was called and said no: `admission webhook
// "validation.istio.io" denied the request: configuration is invalid: ...`.
struct WebhookDenial {
  std::string webhook;
  std::string reason;   // what the webhook said; empty for `denied the request without explanation`
  std::string message;  // the API server's message, verbatim
};

// nullopt when `api_server_message` holds no `admission webhook "NAME" denied
// the request`.
std::optional<WebhookDenial> parse_webhook_denial(std::string_view api_server_message);

}  // namespace meshprobe::kube
