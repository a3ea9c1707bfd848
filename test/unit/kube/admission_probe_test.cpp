// The API server's answers to an admission target's dry-run create, in
// kube-apiserver's own words, read into the catalogue: the sidecar came
// back (or not), the webhook refused (as validation must), the webhook call
// failed (each way the API server reports it), and the API's own refusals.
#include "kube/admission_probe.h"

#include <boost/json.hpp>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "api_responses.h"

namespace meshprobe::kube {
namespace {

using namespace std::chrono_literals;
using meshprobe::test::answered;
using meshprobe::test::status_body;
using testing::HasSubstr;

constexpr std::string_view kNs = "meshprobe-canary";
constexpr std::string_view kServer = "https://10.96.0.1:443";

AdmissionVerdict judge(Admission mode, const HttpResponse& response) {
  return judge_admission_response(mode, response, kNs, 35s, kServer);
}

std::string pod_with(std::string_view spec) {
  return R"({"kind":"Pod","apiVersion":"v1","metadata":{"name":"meshprobe-dry-run-x7k2p",)"
         R"("namespace":"meshprobe-canary","creationTimestamp":"2026-12-04T10:42:00Z"},"spec":)" +
         std::string(spec) + "}";
}

HttpResponse internal_error(std::string_view message) {
  return answered(500, status_body(500, "InternalError", message));
}

constexpr std::string_view kInjectorTimeout =
    R"(Internal error occurred: failed calling webhook "namespace.sidecar-injector.istio.io": )"
    R"(failed to call webhook: Post "https://istiod.istio-system.svc:443/inject?timeout=10s": )"
    R"(dial tcp 10.96.3.4:443: i/o timeout)";

TEST(AdmissionProbe, APodThatCameBackWithIstioProxyPasses) {
  const AdmissionVerdict verdict = judge(
      Admission::inject,
      answered(201, pod_with(R"({"containers":[{"name":"dry-run"},{"name":"istio-proxy"}]})")));
  EXPECT_EQ(verdict.diagnosis, Diagnosis::ok);
  EXPECT_THAT(verdict.message, HasSubstr("istio-proxy as a container"));
}

TEST(AdmissionProbe, ANativeSidecarCountsAsTheSidecar) {
  const AdmissionVerdict verdict =
      judge(Admission::inject,
            answered(201, pod_with(R"({"initContainers":[{"name":"istio-validation"},)"
                                   R"({"name":"istio-proxy","restartPolicy":"Always"}],)"
                                   R"("containers":[{"name":"dry-run"}]})")));
  EXPECT_EQ(verdict.diagnosis, Diagnosis::ok);
  EXPECT_THAT(verdict.message, HasSubstr("native sidecar"));
}

TEST(AdmissionProbe, APodAdmittedWithoutASidecarIsInjectionSkipped) {
  const AdmissionVerdict verdict =
      judge(Admission::inject, answered(201, pod_with(R"({"containers":[{"name":"dry-run"}]})")));
  EXPECT_EQ(verdict.diagnosis, Diagnosis::injection_skipped);
  EXPECT_EQ(verdict.failed_phase, Phase::app);
  EXPECT_THAT(verdict.message, HasSubstr("failurePolicy is Ignore"));
}

TEST(AdmissionProbe, AnAnswerThatIsNotAPodIsAnApiError) {
  const AdmissionVerdict verdict = judge(Admission::inject, answered(201, R"({"kind":"Status"})"));
  EXPECT_EQ(verdict.diagnosis, Diagnosis::kubernetes_api_error);
}

TEST(AdmissionProbe, TheInjectorsDialTimeoutIsTcpTimeoutWithTheWebhookAndItsUrl) {
  const AdmissionVerdict verdict = judge(Admission::inject, internal_error(kInjectorTimeout));
  EXPECT_EQ(verdict.diagnosis, Diagnosis::tcp_timeout);
  EXPECT_EQ(verdict.webhook, "namespace.sidecar-injector.istio.io");
  EXPECT_EQ(verdict.webhook_url, "https://istiod.istio-system.svc:443/inject?timeout=10s");
  EXPECT_THAT(verdict.message, HasSubstr(std::string(kInjectorTimeout)));  // verbatim
}

TEST(AdmissionProbe, ABareDeadlineIsWebhookTimeout) {
  const AdmissionVerdict verdict = judge(
      Admission::inject,
      internal_error(
          R"(Internal error occurred: failed calling webhook "rev.namespace.sidecar-injector.istio.io": )"
          R"(failed to call webhook: Post "https://istiod-1-22.istio-system.svc:443/inject?timeout=10s": )"
          R"(context deadline exceeded)"));
  EXPECT_EQ(verdict.diagnosis, Diagnosis::webhook_timeout);
  EXPECT_EQ(verdict.webhook, "rev.namespace.sidecar-injector.istio.io");
}

TEST(AdmissionProbe, AStaleCaBundleIsUnknownAuthority) {
  const AdmissionVerdict verdict = judge(
      Admission::inject,
      internal_error(
          R"(Internal error occurred: failed calling webhook "namespace.sidecar-injector.istio.io": )"
          R"(failed to call webhook: Post "https://istiod.istio-system.svc:443/inject?timeout=10s": )"
          R"(tls: failed to verify certificate: x509: certificate signed by unknown authority)"));
  EXPECT_EQ(verdict.diagnosis, Diagnosis::tls_unknown_authority);
}

TEST(AdmissionProbe, ValidationThatRefusesTheInvalidGatewayPasses) {
  const AdmissionVerdict verdict = judge(
      Admission::validate,
      answered(400,
               status_body(400, "",
                           R"(admission webhook "validation.istio.io" denied the request: )"
                           R"(configuration is invalid: gateway must have at least one server)")));
  EXPECT_EQ(verdict.diagnosis, Diagnosis::ok);
  EXPECT_EQ(verdict.webhook, "validation.istio.io");
  EXPECT_THAT(verdict.message, HasSubstr("gateway must have at least one server"));
}

TEST(AdmissionProbe, AnAdmittedInvalidGatewayIsValidationNotEnforced) {
  const AdmissionVerdict verdict = judge(
      Admission::validate,
      answered(201,
               R"({"kind":"Gateway","apiVersion":"networking.istio.io/v1beta1","metadata":{}})"));
  EXPECT_EQ(verdict.diagnosis, Diagnosis::webhook_validation_not_enforced);
}

TEST(AdmissionProbe, ValidationThatCannotBeCalledIsTheCallsDiagnosis) {
  const AdmissionVerdict verdict = judge(
      Admission::validate,
      internal_error(
          R"(Internal error occurred: failed calling webhook "validation.istio.io": )"
          R"(failed to call webhook: Post "https://istiod.istio-system.svc:443/validate?timeout=10s": )"
          R"(dial tcp 10.96.3.4:443: connect: connection refused)"));
  EXPECT_EQ(verdict.diagnosis, Diagnosis::tcp_refused);
  EXPECT_EQ(verdict.webhook, "validation.istio.io");
}

TEST(AdmissionProbe, APolicyWebhookRefusingTheCanaryPodSaysSo) {
  const AdmissionVerdict verdict = judge(
      Admission::inject,
      answered(400,
               status_body(400, "",
                           R"(admission webhook "validation.gatekeeper.sh" denied the request: )"
                           R"([must-have-owner] you must provide labels: {"owner"})")));
  EXPECT_EQ(verdict.diagnosis, Diagnosis::kubernetes_api_error);
  EXPECT_EQ(verdict.webhook, "validation.gatekeeper.sh");
  EXPECT_THAT(verdict.message, HasSubstr("exempt namespace meshprobe-canary"));
}

TEST(AdmissionProbe, AForbiddenCreateNamesTheMissingVerb) {
  const AdmissionVerdict verdict = judge(
      Admission::inject,
      answered(
          403,
          status_body(
              403, "Forbidden",
              R"(pods is forbidden: User "system:serviceaccount:meshprobe:meshprobe" )"
              R"(cannot create resource "pods" in API group "" in the namespace "meshprobe-canary")")));
  EXPECT_EQ(verdict.diagnosis, Diagnosis::kubernetes_api_error);
  EXPECT_THAT(verdict.message,
              HasSubstr(R"(verb "create" on "pods" in namespace "meshprobe-canary")"));
}

TEST(AdmissionProbe, AMissingCanaryNamespaceSaysHowToCreateIt) {
  const AdmissionVerdict verdict = judge(
      Admission::inject,
      answered(404, status_body(404, "NotFound", R"(namespaces "meshprobe-canary" not found)")));
  EXPECT_EQ(verdict.diagnosis, Diagnosis::kubernetes_api_error);
  EXPECT_THAT(verdict.message, HasSubstr("--create-canary"));
}

TEST(AdmissionProbe, NoGatewayResourceMeansIstiosCrdsAreMissing) {
  const AdmissionVerdict verdict = judge(
      Admission::validate,
      answered(404,
               status_body(404, "NotFound", "the server could not find the requested resource")));
  EXPECT_EQ(verdict.diagnosis, Diagnosis::kubernetes_api_error);
  EXPECT_THAT(verdict.message, HasSubstr("CRDs"));
}

TEST(AdmissionProbe, AnApiServerThatTookTheCreateAndNeverAnsweredIsWebhookTimeout) {
  HttpResponse response;
  response.timed_out = true;
  response.request_sent = true;
  EXPECT_EQ(judge(Admission::inject, response).diagnosis, Diagnosis::webhook_timeout);
}

TEST(AdmissionProbe, AnUnreachableApiServerIsAnApiError) {
  HttpResponse response;
  response.error = "Failed to connect to 10.96.0.1 port 443: Connection refused";
  const AdmissionVerdict verdict = judge(Admission::inject, response);
  EXPECT_EQ(verdict.diagnosis, Diagnosis::kubernetes_api_error);
  EXPECT_THAT(verdict.message, HasSubstr("cannot reach the Kubernetes API server"));
}

TEST(AdmissionProbe, TheDryRunPodIsAMinimalPodInTheCanaryNamespace) {
  EXPECT_EQ(dry_run_collection(Admission::inject, kNs), "/api/v1/namespaces/meshprobe-canary/pods");
  const boost::json::value pod = boost::json::parse(dry_run_object(Admission::inject, kNs));
  EXPECT_EQ(pod.at("kind"), "Pod");
  EXPECT_EQ(pod.at("metadata").at("namespace"), "meshprobe-canary");
  EXPECT_EQ(pod.at("metadata").at("generateName"), "meshprobe-dry-run-");
  EXPECT_EQ(pod.at("spec").at("containers").as_array().size(), 1u);
}

TEST(AdmissionProbe, TheDryRunGatewayHasNoServers) {
  EXPECT_EQ(dry_run_collection(Admission::validate, kNs),
            "/apis/networking.istio.io/v1beta1/namespaces/meshprobe-canary/gateways");
  const boost::json::value gateway = boost::json::parse(dry_run_object(Admission::validate, kNs));
  EXPECT_EQ(gateway.at("kind"), "Gateway");
  EXPECT_TRUE(gateway.at("spec").as_object().empty());
}

}  // namespace
}  // namespace meshprobe::kube
