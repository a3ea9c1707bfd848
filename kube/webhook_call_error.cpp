#include "kube/webhook_call_error.h"

#include <array>
#include <span>

#include "common/text.h"
#include "kube/apiserver_proxy.h"

namespace meshprobe::kube {
namespace {

// A Go %q string starting at text[at] (the opening quote): its content and
// the position after the closing quote. nullopt when the quote never closes
// (a truncated message). Webhook names and URLs are ASCII, so only an
// escaped quote or backslash needs undoing; other escapes stay as written.
struct Quoted {
  std::string value;
  std::size_t end;
};
std::optional<Quoted> go_quoted(std::string_view text, std::size_t at) {
  if (at >= text.size() || text[at] != '"') return std::nullopt;
  Quoted out;
  for (std::size_t i = at + 1; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '"') {
      out.end = i + 1;
      return out;
    }
    if (c == '\\' && i + 1 < text.size() && (text[i + 1] == '"' || text[i + 1] == '\\')) {
      out.value += text[++i];
      continue;
    }
    out.value += c;
  }
  return std::nullopt;
}

std::string_view after_prefix(std::string_view text, std::string_view prefix) {
  return text.starts_with(prefix) ? text.substr(prefix.size()) : text;
}

// The webhook answered, and the API server could not use the answer: its
// client's words for a status it could not decode (apimachinery's generic
// server responses, one per status) ...
constexpr std::array<std::string_view, 11> kHttpStatusErrors = {
    "has prevented the request from succeeding",  // 5xx: an error on the server ("BODY") ...
    "the server responded with the status code",  // ... %d but did not return more information
    "the server could not find the requested resource",                 // 404
    "the server rejected our request for an unknown reason",            // 400
    "the server has asked for the client to provide credentials",       // 401
    "the server does not allow this method on the requested resource",  // 405
    "the server rejected our request due to an error in our request",   // 422
    "the server reported a conflict",                                   // 409
    "the server is currently unable to handle the request",             // 503
    "the server has received too many requests",                        // 429
    "the server was unable to return a response in the time allotted",  // 504
};
// ... or a 200 whose AdmissionReview it refused (wrong uid, kind, patch):
// the dispatcher's own prefixes of the reason.
constexpr std::array<std::string_view, 3> kRefusedResponses = {
    "received invalid webhook response",
    "received undecodable patch in webhook response",
    "unsupported patch type",
};

bool any_of(std::string_view text, std::span<const std::string_view> needles) {
  for (std::string_view needle : needles) {
    if (has(text, needle)) return true;
  }
  return false;
}

bool starts_with_any(std::string_view text, std::span<const std::string_view> prefixes) {
  for (std::string_view prefix : prefixes) {
    if (text.starts_with(prefix)) return true;
  }
  return false;
}

// `Post "URL": context deadline exceeded` and `(Client.Timeout exceeded
// while awaiting headers)`: the call's deadline (timeoutSeconds) covers the
// dial, the TLS handshake and the handler, and Go's words name none of them
// unless it says `dial tcp`, `TLS handshake timeout`, `while waiting for
// connection` (no connection yet) or `timeout awaiting response headers`
// (the request was written).
bool is_bare_deadline(std::string_view error) {
  const bool deadline = has(error, "deadline exceeded") || has(error, "Client.Timeout exceeded");
  return deadline && !has(error, "dial tcp") && !has(error, "TLS handshake timeout") &&
         !has(error, "while waiting for connection") &&
         !has(error, "timeout awaiting response headers");
}

void classify(WebhookCallError& call, std::string_view reason) {
  if (starts_with_any(reason, kRefusedResponses) || any_of(call.error, kHttpStatusErrors)) {
    call.diagnosis = Diagnosis::http_unexpected_status;
    call.failed_phase = Phase::app;
    return;
  }
  if (is_bare_deadline(call.error)) {
    call.diagnosis = Diagnosis::webhook_timeout;
    call.failed_phase = std::nullopt;
    return;
  }
  const ProxyVerdict verdict = classify_proxy_error(call.error);
  call.diagnosis = verdict.diagnosis;
  call.failed_phase = verdict.failed_phase;
}

}  // namespace

std::optional<WebhookCallError> parse_webhook_call_error(std::string_view api_server_message) {
  constexpr std::string_view kCalling = "failed calling webhook ";
  const std::size_t at = api_server_message.find(kCalling);
  if (at == std::string_view::npos) return std::nullopt;
  const auto name = go_quoted(api_server_message, at + kCalling.size());
  if (!name || name->value.empty()) return std::nullopt;

  WebhookCallError call;
  call.webhook = name->value;
  call.message = std::string(api_server_message);
  const std::string_view rest = api_server_message.substr(name->end);
  if (rest.starts_with("; no further details available")) {
    call.diagnosis = Diagnosis::kubernetes_api_error;
    call.failed_phase = std::nullopt;
    return call;
  }
  if (!rest.starts_with(": ") || rest.size() == 2) return std::nullopt;
  const std::string_view reason = rest.substr(2);

  // Since Kubernetes 1.22 the round trip's error is wrapped in `failed to call
  // webhook: `; before, Go's url.Error came straight after the name. Go
  // quotes the URL since 1.14 (`Post "URL": ...`), before it did not.
  std::string_view call_error = after_prefix(reason, "failed to call webhook: ");
  constexpr std::string_view kPost = "Post ";
  if (call_error.starts_with(kPost)) {
    const std::size_t url_at = kPost.size();
    if (auto url = go_quoted(call_error, url_at)) {
      call.url = url->value;
      call_error = after_prefix(call_error.substr(url->end), ": ");
    } else if (call_error.size() > url_at && call_error[url_at] != '"') {
      const std::size_t end = call_error.find(": ", url_at);
      if (end != std::string_view::npos) {
        call.url = std::string(call_error.substr(url_at, end - url_at));
        call_error = call_error.substr(end + 2);
      }
    }
  }
  call.error = std::string(call_error);
  classify(call, reason);
  return call;
}

std::optional<WebhookDenial> parse_webhook_denial(std::string_view api_server_message) {
  constexpr std::string_view kAdmission = "admission webhook ";
  constexpr std::string_view kDenied = " denied the request";
  for (std::size_t at = api_server_message.find(kAdmission); at != std::string_view::npos;
       at = api_server_message.find(kAdmission, at + 1)) {
    const auto name = go_quoted(api_server_message, at + kAdmission.size());
    if (!name || name->value.empty()) continue;
    const std::string_view rest = api_server_message.substr(name->end);
    if (!rest.starts_with(kDenied)) continue;
    WebhookDenial denial;
    denial.webhook = name->value;
    denial.message = std::string(api_server_message);
    const std::string_view said = rest.substr(kDenied.size());
    if (said.starts_with(": ")) denial.reason = std::string(said.substr(2));
    return denial;
  }
  return std::nullopt;
}

}  // namespace meshprobe::kube
