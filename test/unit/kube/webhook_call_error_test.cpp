// The API server's messages for a webhook it could not call, or that said no,
// as kube-apiserver writes them (k8s.io/apiserver's webhook dispatchers, Go's
// net/http and crypto/x509 under them), read into the diagnosis catalogue.
#include "kube/webhook_call_error.h"

#include <gtest/gtest.h>

#include <string>

namespace meshprobe::kube {
namespace {

WebhookCallError parsed(std::string_view message) {
  const std::optional<WebhookCallError> call = parse_webhook_call_error(message);
  EXPECT_TRUE(call.has_value()) << message;
  return call.value_or(WebhookCallError{});
}

// `Internal error occurred: failed calling webhook "NAME": failed to call
// webhook: Post "URL": ERROR`, the Status message since Kubernetes 1.22.
std::string internal_error(std::string_view webhook, std::string_view url, std::string_view error) {
  return "Internal error occurred: failed calling webhook \"" + std::string(webhook) +
         "\": failed to call webhook: Post \"" + std::string(url) + "\": " + std::string(error);
}

constexpr std::string_view kInjector = "namespace.sidecar-injector.istio.io";
constexpr std::string_view kInjectUrl = "https://istiod.istio-system.svc:443/inject?timeout=10s";

// The forms of the message.

TEST(WebhookCallError, TheStatusMessageGivesTheWebhookTheUrlAndTheError) {
  const std::string message =
      internal_error(kInjector, kInjectUrl, "dial tcp 10.96.3.4:443: i/o timeout");
  const WebhookCallError call = parsed(message);
  EXPECT_EQ(call.webhook, "namespace.sidecar-injector.istio.io");
  EXPECT_EQ(call.url, "https://istiod.istio-system.svc:443/inject?timeout=10s");
  EXPECT_EQ(call.error, "dial tcp 10.96.3.4:443: i/o timeout");
  EXPECT_EQ(call.message, message);
}

TEST(WebhookCallError, TheFailedCreateEventFormIsReadAndKeptVerbatim) {
  const std::string message =
      "Error creating: Internal error occurred: failed calling webhook "
      "\"rev.namespace.sidecar-injector.istio.io\": failed to call webhook: Post "
      "\"https://istiod-1-22-1.istio-system.svc:443/inject?timeout=10s\": dial tcp "
      "10.12.0.7:15017: connect: connection refused";
  const WebhookCallError call = parsed(message);
  EXPECT_EQ(call.webhook, "rev.namespace.sidecar-injector.istio.io");
  EXPECT_EQ(call.url, "https://istiod-1-22-1.istio-system.svc:443/inject?timeout=10s");
  EXPECT_EQ(call.error, "dial tcp 10.12.0.7:15017: connect: connection refused");
  EXPECT_EQ(call.message, message);
}

TEST(WebhookCallError, TheGuidesMessageWithoutFailedToCallWebhookIsRead) {
  // The guide's row for private clusters, as kubectl prints it.
  const std::string message =
      "Error from server (InternalError): Internal error occurred: failed calling webhook "
      "\"rev.namespace.sidecar-injector.istio.io\": Post "
      "\"https://istiod-asm-1122-0.istio-system.svc:443/inject?timeout=10s\": context deadline "
      "exceeded";
  const WebhookCallError call = parsed(message);
  EXPECT_EQ(call.webhook, "rev.namespace.sidecar-injector.istio.io");
  EXPECT_EQ(call.url, "https://istiod-asm-1122-0.istio-system.svc:443/inject?timeout=10s");
  EXPECT_EQ(call.error, "context deadline exceeded");
  EXPECT_EQ(call.message, message);
}

TEST(WebhookCallError, AnUnquotedUrlOfOlderGoIsRead) {
  const WebhookCallError call = parsed(
      "Internal error occurred: failed calling webhook \"sidecar-injector.istio.io\": Post "
      "https://istio-sidecar-injector.istio-system.svc:443/inject?timeout=30s: dial tcp "
      "10.0.31.8:443: connect: no route to host");
  EXPECT_EQ(call.webhook, "sidecar-injector.istio.io");
  EXPECT_EQ(call.url, "https://istio-sidecar-injector.istio-system.svc:443/inject?timeout=30s");
  EXPECT_EQ(call.error, "dial tcp 10.0.31.8:443: connect: no route to host");
  EXPECT_EQ(call.diagnosis, Diagnosis::tcp_unreachable);
  EXPECT_EQ(call.failed_phase, Phase::connect);
}

TEST(WebhookCallError, AnErrorOnTheWebhooksServerHasNoUrlAndIsHttpUnexpectedStatus) {
  const WebhookCallError call = parsed(
      "Internal error occurred: failed calling webhook \"object.sidecar-injector.istio.io\": "
      "an error on the server (\"no body found\") has prevented the request from succeeding");
  EXPECT_EQ(call.webhook, "object.sidecar-injector.istio.io");
  EXPECT_EQ(call.url, "");
  EXPECT_EQ(call.error,
            "an error on the server (\"no body found\") has prevented the request "
            "from succeeding");
  EXPECT_EQ(call.diagnosis, Diagnosis::http_unexpected_status);
  EXPECT_EQ(call.failed_phase, Phase::app);
}

TEST(WebhookCallError, AnInvalidWebhookResponseIsHttpUnexpectedStatus) {
  const WebhookCallError call = parsed(
      "Internal error occurred: failed calling webhook \"validation.istio.io\": received invalid "
      "webhook response: expected response.uid=\"5f0c7a1e-3b2d-4c59-9d1e-0a7b8c6d5e4f\", got "
      "\"\"");
  EXPECT_EQ(call.webhook, "validation.istio.io");
  EXPECT_EQ(call.error,
            "received invalid webhook response: expected response.uid="
            "\"5f0c7a1e-3b2d-4c59-9d1e-0a7b8c6d5e4f\", got \"\"");
  EXPECT_EQ(call.diagnosis, Diagnosis::http_unexpected_status);
  EXPECT_EQ(call.failed_phase, Phase::app);
}

TEST(WebhookCallError, NoFurtherDetailsIsAKubernetesApiErrorWithoutAPhase) {
  const WebhookCallError call = parsed(
      "Internal error occurred: failed calling webhook \"mpod.elbv2.k8s.aws\"; no further details "
      "available");
  EXPECT_EQ(call.webhook, "mpod.elbv2.k8s.aws");
  EXPECT_EQ(call.error, "");
  EXPECT_EQ(call.diagnosis, Diagnosis::kubernetes_api_error);
  EXPECT_FALSE(call.failed_phase.has_value());
}

// The codes of the error under the call.

TEST(WebhookCallError, ADialTimeoutIsTcpTimeout) {
  const WebhookCallError call = parsed(internal_error(
      "rev.validation.istio.io", "https://istiod-canary.istio-system.svc:443/validate?timeout=10s",
      "dial tcp 172.20.14.9:15017: i/o timeout"));
  EXPECT_EQ(call.diagnosis, Diagnosis::tcp_timeout);
  EXPECT_EQ(call.failed_phase, Phase::connect);
}

TEST(WebhookCallError, ARefusedConnectionIsTcpRefused) {
  const WebhookCallError call = parsed(
      internal_error(kInjector, kInjectUrl, "dial tcp 10.96.3.4:443: connect: connection refused"));
  EXPECT_EQ(call.diagnosis, Diagnosis::tcp_refused);
  EXPECT_EQ(call.failed_phase, Phase::connect);
}

TEST(WebhookCallError, NoEndpointsForTheServiceIsTcpRefused) {
  const WebhookCallError call = parsed(internal_error(
      "validation.istio.io", "https://istiod-1-21-3.istio-system.svc:443/validate?timeout=10s",
      "no endpoints available for service \"istiod-1-21-3\""));
  EXPECT_EQ(call.diagnosis, Diagnosis::tcp_refused);
  EXPECT_EQ(call.failed_phase, Phase::connect);
}

TEST(WebhookCallError, AServiceThatDoesNotExistIsDnsNotFound) {
  const WebhookCallError call =
      parsed(internal_error("rev.namespace.sidecar-injector.istio.io",
                            "https://istiod-1-19-0.istio-system.svc:443/inject?timeout=10s",
                            "service \"istiod-1-19-0\" not found"));
  EXPECT_EQ(call.error, "service \"istiod-1-19-0\" not found");
  EXPECT_EQ(call.diagnosis, Diagnosis::dns_not_found);
  EXPECT_EQ(call.failed_phase, Phase::resolve);
}

TEST(WebhookCallError, AUrlWebhooksLookupThatTimedOutIsDnsFailure) {
  const WebhookCallError call = parsed(internal_error(
      "mutate.kyverno.svc", "https://kyverno-svc.kyverno.svc.cluster.local:443/mutate?timeout=10s",
      "dial tcp: lookup kyverno-svc.kyverno.svc.cluster.local on 169.254.20.10:53: read udp "
      "10.128.0.4:53411->169.254.20.10:53: i/o timeout"));
  EXPECT_EQ(call.diagnosis, Diagnosis::dns_failure);
  EXPECT_EQ(call.failed_phase, Phase::resolve);
}

TEST(WebhookCallError, AnUnknownAuthorityIsTlsUnknownAuthority) {
  const WebhookCallError call = parsed(internal_error(
      kInjector, kInjectUrl,
      "tls: failed to verify certificate: x509: certificate signed by unknown authority"));
  EXPECT_EQ(call.diagnosis, Diagnosis::tls_unknown_authority);
  EXPECT_EQ(call.failed_phase, Phase::tls);
}

TEST(WebhookCallError, AnUnknownAuthorityWithGosHintIsTlsUnknownAuthority) {
  const WebhookCallError call = parsed(internal_error(
      "validation.istio.io", "https://istiod.istio-system.svc:443/validate?timeout=10s",
      "x509: certificate signed by unknown authority (possibly because of \"crypto/rsa: "
      "verification error\" while trying to verify candidate authority certificate "
      "\"cluster.local\")"));
  EXPECT_EQ(call.diagnosis, Diagnosis::tls_unknown_authority);
}

TEST(WebhookCallError, ACertificateForAnotherNameIsTlsNameMismatch) {
  const WebhookCallError call = parsed(internal_error(
      "rev.namespace.sidecar-injector.istio.io",
      "https://istiod-stable.istio-system.svc:443/inject?timeout=10s",
      "tls: failed to verify certificate: x509: certificate is valid for istiod.istio-system.svc, "
      "istiod-canary.istio-system.svc, not istiod-stable.istio-system.svc"));
  EXPECT_EQ(call.diagnosis, Diagnosis::tls_name_mismatch);
  EXPECT_EQ(call.failed_phase, Phase::tls);
}

TEST(WebhookCallError, AnExpiredCertificateIsTlsExpired) {
  const WebhookCallError call = parsed(internal_error(
      kInjector, kInjectUrl,
      "tls: failed to verify certificate: x509: certificate has expired or is not yet valid: "
      "current time 2026-12-04T18:02:11Z is after 2026-11-30T09:00:00Z"));
  EXPECT_EQ(call.diagnosis, Diagnosis::tls_expired);
  EXPECT_EQ(call.failed_phase, Phase::tls);
}

TEST(WebhookCallError, ACertificateNotYetValidIsTlsNotYetValid) {
  const WebhookCallError call = parsed(internal_error(
      kInjector, kInjectUrl,
      "x509: certificate has expired or is not yet valid: current time 2026-12-04T18:02:11Z is "
      "before 2026-12-05T00:00:00Z"));
  EXPECT_EQ(call.diagnosis, Diagnosis::tls_not_yet_valid);
  EXPECT_EQ(call.failed_phase, Phase::tls);
}

TEST(WebhookCallError, AHandshakeTimeoutIsTlsTimeout) {
  const WebhookCallError call =
      parsed(internal_error(kInjector, kInjectUrl, "net/http: TLS handshake timeout"));
  EXPECT_EQ(call.diagnosis, Diagnosis::tls_timeout);
  EXPECT_EQ(call.failed_phase, Phase::tls);
}

TEST(WebhookCallError, AWebhookNotFoundStatusIsHttpUnexpectedStatus) {
  const WebhookCallError call = parsed(internal_error(
      "validation.istio.io", "https://istiod.istio-system.svc:443/validate-typo?timeout=10s",
      "the server could not find the requested resource"));
  EXPECT_EQ(call.diagnosis, Diagnosis::http_unexpected_status);
  EXPECT_EQ(call.failed_phase, Phase::app);
}

TEST(WebhookCallError, AStatusWithoutMoreInformationIsHttpUnexpectedStatus) {
  // Inside `failed to call webhook: `, the webhook's answer has no Post "URL".
  const WebhookCallError call = parsed(
      "Internal error occurred: failed calling webhook \"vault.hashicorp.com\": failed to call "
      "webhook: the server responded with the status code 418 but did not return more "
      "information");
  EXPECT_EQ(call.webhook, "vault.hashicorp.com");
  EXPECT_EQ(call.url, "");
  EXPECT_EQ(call.error,
            "the server responded with the status code 418 but did not return more information");
  EXPECT_EQ(call.diagnosis, Diagnosis::http_unexpected_status);
}

TEST(WebhookCallError, ABareContextDeadlineIsWebhookTimeoutWithoutAPhase) {
  const WebhookCallError call =
      parsed(internal_error(kInjector, kInjectUrl, "context deadline exceeded"));
  EXPECT_EQ(call.diagnosis, Diagnosis::webhook_timeout);
  EXPECT_FALSE(call.failed_phase.has_value());
}

TEST(WebhookCallError, TheClientTimeoutAwaitingHeadersIsWebhookTimeout) {
  // Go's Client.Timeout covers the dial and the handler alike: no layer named.
  const WebhookCallError call = parsed(
      internal_error("rev.validation.istio.io",
                     "https://istiod-asm-1181-3.istio-system.svc:443/validate?timeout=10s",
                     "context deadline exceeded (Client.Timeout exceeded while awaiting headers)"));
  EXPECT_EQ(call.diagnosis, Diagnosis::webhook_timeout);
  EXPECT_FALSE(call.failed_phase.has_value());
}

TEST(WebhookCallError, WaitingForAConnectionWhenTimeRanOutIsTcpTimeout) {
  // The guide's "network connectivity" row: no connection was ever made.
  const WebhookCallError call = parsed(internal_error(
      kInjector, kInjectUrl,
      "net/http: request canceled while waiting for connection (Client.Timeout exceeded while "
      "awaiting headers)"));
  EXPECT_EQ(call.diagnosis, Diagnosis::tcp_timeout);
  EXPECT_EQ(call.failed_phase, Phase::connect);
}

TEST(WebhookCallError, ResponseHeadersThatNeverCameAfterTheRequestAreHttpTimeout) {
  const WebhookCallError call =
      parsed(internal_error(kInjector, kInjectUrl, "net/http: timeout awaiting response headers"));
  EXPECT_EQ(call.diagnosis, Diagnosis::http_timeout);
  EXPECT_EQ(call.failed_phase, Phase::app);
}

TEST(WebhookCallError, AConnectionClosedBeforeTheAnswerIsHttpProtocolError) {
  const WebhookCallError call = parsed(internal_error(kInjector, kInjectUrl, "EOF"));
  EXPECT_EQ(call.diagnosis, Diagnosis::http_protocol_error);
  EXPECT_EQ(call.failed_phase, Phase::app);
}

TEST(WebhookCallError, AnErrorItDoesNotKnowIsAKubernetesApiError) {
  const WebhookCallError call = parsed(
      "Internal error occurred: failed calling webhook \"validation.istio.io\": could not get "
      "REST client: unable to load root certificates: unable to parse bytes as PEM block");
  EXPECT_EQ(call.diagnosis, Diagnosis::kubernetes_api_error);
  EXPECT_EQ(call.failed_phase, Phase::app);
}

// Text that is not a failed webhook call.

TEST(WebhookCallError, TextWithoutAFailedWebhookCallIsNotOne) {
  EXPECT_FALSE(parse_webhook_call_error(""));
  EXPECT_FALSE(
      parse_webhook_call_error("Internal error occurred: resource quota evaluation timed out"));
  EXPECT_FALSE(parse_webhook_call_error(
      "admission webhook \"validation.istio.io\" denied the request: configuration is invalid: "
      "gateway must have at least one server"));
}

TEST(WebhookCallError, ANameThatIsNotQuotedOrNeverClosesIsNotOne) {
  EXPECT_FALSE(parse_webhook_call_error("failed calling webhook validation.istio.io: EOF"));
  EXPECT_FALSE(parse_webhook_call_error("failed calling webhook \"validation.istio.io"));
  EXPECT_FALSE(parse_webhook_call_error("failed calling webhook \"validation.istio.io\\"));
  EXPECT_FALSE(parse_webhook_call_error("failed calling webhook \"\": EOF"));
}

TEST(WebhookCallError, ANameWithoutAReasonIsNotOne) {
  EXPECT_FALSE(parse_webhook_call_error("failed calling webhook \"validation.istio.io\""));
  EXPECT_FALSE(parse_webhook_call_error("failed calling webhook \"validation.istio.io\": "));
  EXPECT_FALSE(parse_webhook_call_error("failed calling webhook \"validation.istio.io\" EOF"));
}

TEST(WebhookCallError, AnEscapedQuoteInTheNameIsUndone) {
  const WebhookCallError call = parsed(
      "failed calling webhook \"odd\\\"name\": failed to call webhook: Post "
      "\"https://x.example.svc:443/\": dial tcp 10.1.2.3:443: i/o timeout");
  EXPECT_EQ(call.webhook, "odd\"name");
  EXPECT_EQ(call.url, "https://x.example.svc:443/");
  EXPECT_EQ(call.diagnosis, Diagnosis::tcp_timeout);
}

TEST(WebhookCallError, ATruncatedUrlKeepsTheRestAsTheErrorAndIsAKubernetesApiError) {
  // Event messages are cut at a length: the URL's quote never closes.
  const std::string message =
      "Error creating: Internal error occurred: failed calling webhook "
      "\"namespace.sidecar-injector.istio.io\": failed to call webhook: Post \"https://istiod.ist";
  const WebhookCallError call = parsed(message);
  EXPECT_EQ(call.webhook, "namespace.sidecar-injector.istio.io");
  EXPECT_EQ(call.url, "");
  EXPECT_EQ(call.error, "Post \"https://istiod.ist");
  EXPECT_EQ(call.diagnosis, Diagnosis::kubernetes_api_error);
  EXPECT_EQ(call.message, message);
}

// The webhook was called and said no.

TEST(WebhookDenial, TheDenyingWebhookAndItsReasonAreRead) {
  const std::string message =
      "admission webhook \"validation.istio.io\" denied the request: configuration is invalid: "
      "gateway must have at least one server";
  const std::optional<WebhookDenial> denial = parse_webhook_denial(message);
  ASSERT_TRUE(denial);
  EXPECT_EQ(denial->webhook, "validation.istio.io");
  EXPECT_EQ(denial->reason, "configuration is invalid: gateway must have at least one server");
  EXPECT_EQ(denial->message, message);
}

TEST(WebhookDenial, KubectlsPrefixBeforeTheDenialIsSkipped) {
  const std::optional<WebhookDenial> denial = parse_webhook_denial(
      "Error from server (BadRequest): error when creating \"bad-vs.yaml\": admission webhook "
      "\"rev.validation.istio.io\" denied the request: configuration is invalid: virtual service "
      "must have at least one host");
  ASSERT_TRUE(denial);
  EXPECT_EQ(denial->webhook, "rev.validation.istio.io");
  EXPECT_EQ(denial->reason,
            "configuration is invalid: virtual service must have at least one host");
}

TEST(WebhookDenial, TheEventFormIsRead) {
  const std::optional<WebhookDenial> denial = parse_webhook_denial(
      "Error creating: admission webhook \"pod-policy.gatekeeper.sh\" denied the request: "
      "[psp-privileged] Privileged container is not allowed: istio-init");
  ASSERT_TRUE(denial);
  EXPECT_EQ(denial->webhook, "pod-policy.gatekeeper.sh");
  EXPECT_EQ(denial->reason, "[psp-privileged] Privileged container is not allowed: istio-init");
}

TEST(WebhookDenial, ADenialWithoutExplanationHasAnEmptyReason) {
  const std::optional<WebhookDenial> denial = parse_webhook_denial(
      "admission webhook \"validation.istio.io\" denied the request without explanation");
  ASSERT_TRUE(denial);
  EXPECT_EQ(denial->webhook, "validation.istio.io");
  EXPECT_EQ(denial->reason, "");
}

TEST(WebhookDenial, OtherWordsOfAnAdmissionWebhookAreNotADenial) {
  EXPECT_FALSE(
      parse_webhook_denial("admission webhook \"validation.istio.io\" does not support dry run"));
  EXPECT_FALSE(parse_webhook_denial(internal_error(kInjector, kInjectUrl, "EOF")));
  EXPECT_FALSE(parse_webhook_denial("admission webhook \"validation.istio.io"));
  EXPECT_FALSE(parse_webhook_denial(""));
}

}  // namespace
}  // namespace meshprobe::kube
