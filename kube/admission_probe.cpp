#include "kube/admission_probe.h"

#include <algorithm>

#include "common/text.h"
#include "config/duration.h"
#include "kube/client/objects.h"
#include "kube/client/reads.h"
#include "kube/webhook_call_error.h"

namespace meshprobe::kube {
namespace {

using Clock = std::chrono::steady_clock;

constexpr std::string_view kSidecar = "istio-proxy";

std::string_view object_noun(Admission mode) {
  return mode == Admission::inject ? "a pod" : "an invalid Gateway";
}

const ApiAccess& access_of(Admission mode) {
  return mode == Admission::inject ? access::kCreatePods : access::kCreateGateways;
}

// Where the sidecar came in: a container, or a native sidecar (an init
// container that keeps running, Kubernetes 1.28+); empty when none.
std::string sidecar_form(const Pod& pod) {
  const auto named = [](const Container& c) { return c.name == kSidecar; };
  if (std::ranges::any_of(pod.containers, named)) return "as a container";
  const auto init = std::ranges::find_if(pod.init_containers, named);
  if (init == pod.init_containers.end()) return {};
  return init->restart_policy == "Always" ? "as a native sidecar (an init container)"
                                          : "as an init container";
}

AdmissionVerdict judge_admitted(Admission mode, const HttpResponse& response, std::string_view ns) {
  const std::string where = " in namespace " + std::string(ns);
  if (mode == Admission::validate) {
    return {Diagnosis::webhook_validation_not_enforced,
            Phase::app,
            "the API server admitted a dry-run Gateway without servers" + where +
                ", which istiod's validation refuses: its validating webhook was not called "
                "(no ValidatingWebhookConfiguration selects it) or failed with "
                "failurePolicy: Ignore",
            {},
            {}};
  }
  auto pod = parse_pod(response.body);
  if (!pod) {
    return {Diagnosis::kubernetes_api_error,
            Phase::app,
            "the API server answered " + std::to_string(response.status) +
                " to the dry-run pod, but not with a Pod: " + pod.error().message,
            {},
            {}};
  }
  const std::string form = sidecar_form(*pod);
  if (form.empty()) {
    return {Diagnosis::injection_skipped,
            Phase::app,
            "the API server admitted the dry-run pod" + where +
                " without a sidecar: no injector webhook selected the namespace (is it labelled "
                "istio-injection=enabled or istio.io/rev=REVISION?), or the webhook failed and "
                "its failurePolicy is Ignore",
            {},
            {}};
  }
  return {Diagnosis::ok,
          std::nullopt,
          "the API server ran its admission chain for a dry-run pod" + where +
              " and it came back with istio-proxy " + form + " (dryRun=All: nothing persisted)",
          {},
          {}};
}

AdmissionVerdict judge_refused(Admission mode, const HttpResponse& response, std::string_view ns,
                               std::string_view server) {
  const auto status = parse_status(response.body);
  const std::string words =
      status && !status->message.empty() ? status->message : bounded_text(response.body);
  const std::string answered = "the API server answered " + std::to_string(response.status) +
                               " to the dry-run create of " + std::string(object_noun(mode)) +
                               " in namespace " + std::string(ns) + ": ";
  if (auto failed = parse_webhook_call_error(words)) {
    return {failed->diagnosis, failed->failed_phase, answered + failed->message,
            std::move(failed->webhook), std::move(failed->url)};
  }
  if (auto denied = parse_webhook_denial(words)) {
    if (mode == Admission::validate) {
      return {Diagnosis::ok,
              std::nullopt,
              "istiod's validation refused the invalid Gateway, as it must: " + denied->message,
              std::move(denied->webhook),
              {}};
    }
    return {Diagnosis::kubernetes_api_error,
            Phase::app,
            answered + denied->message +
                " (a webhook refuses meshprobe's canary pod, so injection cannot be checked: "
                "exempt namespace " +
                std::string(ns) + " from that policy)",
            std::move(denied->webhook),
            {}};
  }
  if (response.status == 401 || response.status == 403) {
    return {Diagnosis::kubernetes_api_error,
            Phase::connect,
            describe_failure(response, access_of(mode), ns, server) +
                " (granted by deploy/kubernetes/components/apiserver-vantage/admission-rbac.yaml)",
            {},
            {}};
  }
  if (response.status == 404 && words.find("namespaces \"") != std::string::npos) {
    return {Diagnosis::kubernetes_api_error,
            Phase::resolve,
            answered + words +
                ": create the canary namespace labelled for injection "
                "(deploy/kubernetes/components/apiserver-vantage/"
                "canary-namespace.yaml, or meshprobe check --create-canary)",
            {},
            {}};
  }
  if (response.status == 404 && mode == Admission::validate) {
    return {Diagnosis::kubernetes_api_error,
            Phase::resolve,
            answered + words +
                ": the API server serves no gateways.networking.istio.io/v1beta1 (are Istio's "
                "CRDs installed?)",
            {},
            {}};
  }
  return {Diagnosis::kubernetes_api_error, Phase::app, answered + words, {}, {}};
}

}  // namespace

std::string dry_run_collection(Admission mode, std::string_view ns) {
  const std::string namespaced = "/namespaces/" + url_encode(ns);
  return mode == Admission::inject ? "/api/v1" + namespaced + "/pods"
                                   : "/apis/networking.istio.io/v1beta1" + namespaced + "/gateways";
}

std::string dry_run_object(Admission mode, std::string_view ns) {
  // `ns` is a checked Kubernetes name: nothing in it needs JSON escaping.
  const std::string metadata = "\"namespace\":\"" + std::string(ns) +
                               "\",\"labels\":{\"app.kubernetes.io/name\":\"meshprobe\","
                               "\"app.kubernetes.io/component\":\"dry-run\"}";
  if (mode == Admission::inject) {
    return "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"generateName\":"
           "\"meshprobe-dry-run-\"," +
           metadata +
           "},\"spec\":{\"automountServiceAccountToken\":false,\"containers\":[{\"name\":"
           "\"dry-run\",\"image\":\"registry.k8s.io/pause:3.9\"}]}}";
  }
  return "{\"apiVersion\":\"networking.istio.io/v1beta1\",\"kind\":\"Gateway\",\"metadata\":{"
         "\"generateName\":\"meshprobe-invalid-\"," +
         metadata + "},\"spec\":{}}";
}

AdmissionVerdict judge_admission_response(Admission mode, const HttpResponse& response,
                                          std::string_view ns, std::chrono::milliseconds budget,
                                          std::string_view server) {
  if (response.status == 0) {
    if (response.cancelled) return {Diagnosis::tcp_timeout, Phase::app, "cancelled", {}, {}};
    if (response.timed_out && response.request_sent) {
      return {Diagnosis::webhook_timeout,
              std::nullopt,
              "the API server took the dry-run create of " + std::string(object_noun(mode)) +
                  " in namespace " + std::string(ns) + " and did not answer within " +
                  format_duration(budget) +
                  ": a webhook call is holding it (the API server waits up to each webhook's "
                  "timeoutSeconds)",
              {},
              {}};
    }
    return {Diagnosis::kubernetes_api_error,
            Phase::connect,
            describe_failure(response, access_of(mode), ns, server),
            {},
            {}};
  }
  if (response.status == 200 || response.status == 201) return judge_admitted(mode, response, ns);
  return judge_refused(mode, response, ns, server);
}

ProbeResult probe_admission(KubeApi& api, const Target& target, Admission mode,
                            const std::atomic<bool>* cancel) {
  const auto started = Clock::now();
  ProbeResult result = result_for(target);
  const std::string& server = api.client().credentials().server;
  result.address = server;
  const std::string collection = dry_run_collection(mode, target.host);

  RequestOptions request;
  request.timeout = target.timeout;
  request.cancel = cancel;
  const HttpResponse response =
      api.dry_run_create(collection, dry_run_object(mode, target.host), request);
  if (response.status != 0) result.phases.app = response.elapsed;
  result.http_status = static_cast<int>(response.status);
  result.cancelled = response.cancelled;

  AdmissionVerdict verdict =
      judge_admission_response(mode, response, target.host, target.timeout, server);
  result.diagnosis = verdict.diagnosis;
  result.success = verdict.diagnosis == Diagnosis::ok;
  result.failed_phase = result.success ? std::nullopt : verdict.failed_phase;
  result.message = std::move(verdict.message);
  if (!verdict.webhook.empty()) result.address_labels["webhook"] = std::move(verdict.webhook);
  if (!verdict.webhook_url.empty()) {
    result.address_labels["webhook_url"] = std::move(verdict.webhook_url);
  }
  result.duration = Clock::now() - started;
  return result;
}

}  // namespace meshprobe::kube
