// The API server's proxy answers, as recorded from real clusters, read into
// the same diagnoses a direct probe gives.
#include "kube/apiserver_proxy.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "api_responses.h"

namespace meshprobe::kube {
namespace {

using namespace std::chrono_literals;
using testing::HasSubstr;

using meshprobe::test::answered;
using meshprobe::test::status_body;

constexpr std::string_view kPath =
    "/api/v1/namespaces/istio-system/services/https:istiod:443/proxy/ready";
constexpr std::string_view kServer = "https://10.96.0.1:443";

ProxyVerdict judge(const HttpResponse& response, int expected = 200) {
  return judge_proxy_response(response, expected, 3s, kPath, kServer);
}

TEST(ProxyPaths, ServiceProxyNamesSchemeServiceAndPort) {
  EXPECT_EQ(service_proxy_path("istio-system", "istiod", "https-webhook", "/ready"),
            "/api/v1/namespaces/istio-system/services/https:istiod:https-webhook/proxy/ready");
}

TEST(ProxyPaths, PodProxyNamesThePodAndItsPort) {
  EXPECT_EQ(
      pod_proxy_path("istio-system", "istiod-5f8d7c9b4-abcde", 15017, "/ready?x=1"),
      "/api/v1/namespaces/istio-system/pods/https:istiod-5f8d7c9b4-abcde:15017/proxy/ready?x=1");
}

TEST(ProxyErrors, ADialTimeoutIsTcpTimeout) {
  const ProxyVerdict verdict = judge(answered(
      503, status_body(503, "ServiceUnavailable",
                       "error trying to reach service: dial tcp 10.8.0.12:15017: i/o timeout")));
  EXPECT_EQ(verdict.diagnosis, Diagnosis::tcp_timeout);
  EXPECT_EQ(verdict.failed_phase, Phase::connect);
  EXPECT_EQ(verdict.dialled, "10.8.0.12:15017");
  EXPECT_THAT(verdict.message, HasSubstr("dial tcp 10.8.0.12:15017: i/o timeout"));
  EXPECT_THAT(verdict.message, HasSubstr("through the API server"));
}

TEST(ProxyErrors, ARefusedDialIsTcpRefused) {
  const ProxyVerdict verdict = judge(
      answered(503, status_body(503, "ServiceUnavailable",
                                "error trying to reach service: dial tcp 10.8.0.12:15017: connect: "
                                "connection refused")));
  EXPECT_EQ(verdict.diagnosis, Diagnosis::tcp_refused);
}

TEST(ProxyErrors, NoEndpointsIsTcpRefusedAsTheSeedSays) {
  const ProxyVerdict verdict =
      judge(answered(503, status_body(503, "ServiceUnavailable",
                                      "no endpoints available for service \"istiod\"")));
  EXPECT_EQ(verdict.diagnosis, Diagnosis::tcp_refused);
  EXPECT_THAT(verdict.message, HasSubstr("no endpoints available for service \"istiod\""));
}

TEST(ProxyErrors, NoRouteIsTcpUnreachable) {
  const ProxyVerdict verdict = judge(answered(
      503,
      status_body(
          503, "ServiceUnavailable",
          "error trying to reach service: dial tcp 10.8.0.12:15017: connect: no route to host")));
  EXPECT_EQ(verdict.diagnosis, Diagnosis::tcp_unreachable);
}

TEST(ProxyErrors, TheOlderPlainTextShapeIsReadToo) {
  const ProxyVerdict verdict =
      judge(answered(503,
                     "Error: 'dial tcp 10.8.0.12:15017: getsockopt: connection timed out'\n"
                     "Trying to reach: 'https://10.8.0.12:15017/ready'"));
  EXPECT_EQ(verdict.diagnosis, Diagnosis::tcp_timeout);
  EXPECT_EQ(verdict.dialled, "10.8.0.12:15017");
}

TEST(ProxyErrors, AnUnknownAuthorityIsTlsUnknownAuthority) {
  const ProxyVerdict verdict = classify_proxy_error(
      "error trying to reach service: tls: failed to verify certificate: x509: certificate signed "
      "by unknown authority");
  EXPECT_EQ(verdict.diagnosis, Diagnosis::tls_unknown_authority);
  EXPECT_EQ(verdict.failed_phase, Phase::tls);
}

TEST(ProxyErrors, AWrongNameIsTlsNameMismatch) {
  EXPECT_EQ(classify_proxy_error("x509: certificate is valid for istiod.istio-system.svc, not "
                                 "istiod-1-22.istio-system.svc")
                .diagnosis,
            Diagnosis::tls_name_mismatch);
}

TEST(ProxyErrors, ExpiryAndNotYetValidAreToldApart) {
  EXPECT_EQ(classify_proxy_error("x509: certificate has expired or is not yet valid: current time "
                                 "2025-11-24T10:00:00Z is after 2025-11-01T00:00:00Z")
                .diagnosis,
            Diagnosis::tls_expired);
  EXPECT_EQ(classify_proxy_error("x509: certificate has expired or is not yet valid: current time "
                                 "2025-11-24T10:00:00Z is before 2025-12-01T00:00:00Z")
                .diagnosis,
            Diagnosis::tls_not_yet_valid);
}

TEST(ProxyErrors, AHandshakeTimeoutIsTlsTimeout) {
  EXPECT_EQ(classify_proxy_error("net/http: TLS handshake timeout").diagnosis,
            Diagnosis::tls_timeout);
}

TEST(ProxyErrors, HeadersThatNeverCameAreHttpTimeout) {
  const ProxyVerdict verdict = classify_proxy_error("net/http: timeout awaiting response headers");
  EXPECT_EQ(verdict.diagnosis, Diagnosis::http_timeout);
  EXPECT_EQ(verdict.failed_phase, Phase::app);
}

TEST(ProxyErrors, NoConnectionYetWhenTheClientTimedOutIsTcpTimeout) {
  const ProxyVerdict verdict = classify_proxy_error(
      "net/http: request canceled while waiting for connection (Client.Timeout exceeded while "
      "awaiting headers)");
  EXPECT_EQ(verdict.diagnosis, Diagnosis::tcp_timeout);
  EXPECT_EQ(verdict.failed_phase, Phase::connect);
}

TEST(ProxyErrors, AServiceThatDoesNotExistIsDnsNotFound) {
  const ProxyVerdict verdict = classify_proxy_error("service \"istiod-1-19\" not found");
  EXPECT_EQ(verdict.diagnosis, Diagnosis::dns_not_found);
  EXPECT_EQ(verdict.failed_phase, Phase::resolve);
}

TEST(ProxyErrors, ALookupThatTimedOutIsDnsFailureNotTcpTimeout) {
  const ProxyVerdict verdict = classify_proxy_error(
      "dial tcp: lookup istiod.istio-system.svc on 10.96.0.10:53: read udp "
      "10.244.0.12:41234->10.96.0.10:53: i/o timeout");
  EXPECT_EQ(verdict.diagnosis, Diagnosis::dns_failure);
  EXPECT_EQ(verdict.failed_phase, Phase::resolve);
}

TEST(ProxyErrors, ALookupOfANameThatDoesNotExistIsDnsNotFound) {
  const ProxyVerdict verdict = classify_proxy_error(
      "dial tcp: lookup istiod-canary.istio-system.svc on 10.96.0.10:53: no such host");
  EXPECT_EQ(verdict.diagnosis, Diagnosis::dns_not_found);
  EXPECT_EQ(verdict.failed_phase, Phase::resolve);
}

TEST(ProxyErrors, AnUnrecognisedErrorIsAKubernetesApiError) {
  const ProxyVerdict verdict =
      judge(answered(503, status_body(503, "ServiceUnavailable",
                                      "no service port 8443 found for service \"istiod\"")));
  EXPECT_EQ(verdict.diagnosis, Diagnosis::kubernetes_api_error);
  EXPECT_THAT(verdict.message, HasSubstr("no service port 8443"));
}

TEST(ProxyAnswers, IstiodsExpectedStatusIsOk) {
  const ProxyVerdict verdict = judge(answered(200, "ok"));
  EXPECT_EQ(verdict.diagnosis, Diagnosis::ok);
  EXPECT_EQ(verdict.http_status, 200);
  EXPECT_THAT(verdict.message, HasSubstr("managed control plane"));
}

TEST(ProxyAnswers, IstiodsOtherStatusIsHttpUnexpectedStatus) {
  const ProxyVerdict verdict = judge(answered(503, "not ready"));
  EXPECT_EQ(verdict.diagnosis, Diagnosis::http_unexpected_status);
  EXPECT_EQ(verdict.http_status, 503);
}

TEST(ProxyAnswers, AMissingServiceIsDnsNotFound) {
  const ProxyVerdict verdict =
      judge(answered(404, status_body(404, "NotFound", "services \"istiod-1-20\" not found")));
  EXPECT_EQ(verdict.diagnosis, Diagnosis::dns_not_found);
  EXPECT_EQ(verdict.failed_phase, Phase::resolve);
}

TEST(ProxyAnswers, AForbiddenProxyNamesTheRbacItNeeds) {
  const ProxyVerdict verdict = judge(answered(
      403, status_body(403, "Forbidden",
                       "services \"https:istiod:443\" is forbidden: User "
                       "\"system:serviceaccount:meshprobe:meshprobe\" cannot get resource "
                       "\"services/proxy\" in API group \"\" in the namespace \"istio-system\"")));
  EXPECT_EQ(verdict.diagnosis, Diagnosis::kubernetes_api_error);
  EXPECT_THAT(verdict.message,
              HasSubstr("verb \"get\" on \"services/proxy\" in namespace \"istio-system\""));
}

TEST(ProxyAnswers, NoAnswerAfterTheRequestWasTakenIsTcpTimeout) {
  HttpResponse response;
  response.timed_out = true;
  response.request_sent = true;
  const ProxyVerdict verdict = judge(response);
  EXPECT_EQ(verdict.diagnosis, Diagnosis::tcp_timeout);
  EXPECT_THAT(verdict.message, HasSubstr("within 3s"));
  EXPECT_THAT(verdict.message, HasSubstr("about 30 s"));
}

TEST(ProxyAnswers, AnUnreachableApiServerIsAKubernetesApiError) {
  HttpResponse response;
  response.error = "Failed to connect to 10.96.0.1 port 443: Connection refused";
  const ProxyVerdict verdict = judge(response);
  EXPECT_EQ(verdict.diagnosis, Diagnosis::kubernetes_api_error);
  EXPECT_THAT(verdict.message, HasSubstr("cannot reach the Kubernetes API server"));
}

}  // namespace
}  // namespace meshprobe::kube
