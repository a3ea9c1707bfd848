// What Kubernetes mode adds to the outputs: the `hygiene` array of `check
// --output json` (the README's "meshprobe check" section), its table section, results seen from the
// API server, discovered endpoints' labels, /status and the metrics family.
#include <boost/json.hpp>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "agent/results/check_report.h"
#include "agent/results/kube_metrics.h"
#include "agent/results/status_page.h"

namespace meshprobe {
namespace {

namespace json = boost::json;
using testing::HasSubstr;
using testing::Not;

HygieneReport report_with_mismatch() {
  HygieneReport report;
  report.ran = true;
  report.findings.push_back({"webhook_ca_mismatch",
                             "MutatingWebhookConfiguration/istio-sidecar-injector",
                             "rev.namespace.sidecar-injector.istio.io",
                             "its caBundle does not verify the certificate istiod serves",
                             std::string(kube::hygiene_remedy(kube::kCaMismatch))});
  report.notes.push_back(
      {"webhook_ca_mismatch", "caBundle of X not checked: Service istiod has no endpoints", {}});
  return report;
}

ProbeResult apiserver_result() {
  ProbeResult result;
  result.target = "webhook-from-apiserver";
  result.url = "https://istiod.istio-system.svc:443/ready";
  result.kind = ProbeKind::https;
  result.address = "10.8.0.12";
  result.vantage = "apiserver";
  result.address_labels = {{"pod", "istiod-a"}, {"ready", "false"}};
  result.diagnosis = Diagnosis::tcp_timeout;
  result.failed_phase = Phase::connect;
  result.message = "the API server answered 503: dial tcp 10.8.0.12:15017: i/o timeout";
  return result;
}

TEST(CheckJson, CarriesTheHygieneArrayInTheSpecsShape) {
  const HygieneReport report = report_with_mismatch();
  const json::object out = json::parse(render_json({}, "bastion", &report)).as_object();
  ASSERT_TRUE(out.contains("hygiene"));
  const json::object& finding = out.at("hygiene").as_array().at(0).as_object();
  EXPECT_EQ(finding.at("code"), "webhook_ca_mismatch");
  EXPECT_EQ(finding.at("object"), "MutatingWebhookConfiguration/istio-sidecar-injector");
  EXPECT_EQ(finding.at("webhook"), "rev.namespace.sidecar-injector.istio.io");
  EXPECT_TRUE(finding.contains("message"));
  EXPECT_TRUE(finding.contains("remedy"));
  EXPECT_EQ(finding.at("doc"), "docs/diagnoses.md#webhook_ca_mismatch");
  EXPECT_EQ(out.at("hygiene_notes").as_array().size(), 1u);
  EXPECT_FALSE(out.contains("hygiene_error"));
}

HygieneReport report_without_namespaces() {
  HygieneReport report = report_with_mismatch();
  report.notes = {{"injection_label_unmatched",
                   "check injection_label_unmatched could not run: listing Namespaces failed: "
                   "forbidden (403)",
                   {"verb \"list\" on \"namespaces\" (cluster-wide)"}}};
  report.incomplete_checks = {"injection_label_unmatched"};
  report.skipped_checks = {"injection_label_unmatched"};
  return report;
}

TEST(CheckJson, ACheckThatCouldNotRunIsANoteWithItsNameWhyAndRbac) {
  const HygieneReport report = report_without_namespaces();
  const json::object out = json::parse(render_json({}, "bastion", &report)).as_object();
  EXPECT_EQ(out.at("hygiene").as_array().size(), 1u);  // the other checks' findings stay
  const json::object& note = out.at("hygiene_notes").as_array().at(0).as_object();
  EXPECT_EQ(note.at("check"), "injection_label_unmatched");
  EXPECT_THAT(std::string(note.at("message").as_string()), HasSubstr("forbidden (403)"));
  EXPECT_EQ(note.at("rbac").as_array().at(0), "verb \"list\" on \"namespaces\" (cluster-wide)");
  EXPECT_FALSE(out.contains("hygiene_error"));
}

TEST(CheckTable, ShowsACheckThatCouldNotRunAndTheRbacItNeeds) {
  const HygieneReport report = report_without_namespaces();
  const std::string table = render_table({}, "bastion", false, &report);
  EXPECT_THAT(table, HasSubstr("check injection_label_unmatched could not run"));
  EXPECT_THAT(table, HasSubstr("needs    RBAC verb \"list\" on \"namespaces\""));
}

TEST(CheckJson, HasNoHygieneWithoutKubernetes) {
  const json::object out = json::parse(render_json({}, "local")).as_object();
  EXPECT_FALSE(out.contains("hygiene"));
}

TEST(CheckJson, SaysWhyTheHygieneChecksCouldNotRun) {
  HygieneReport report;
  report.ran = true;
  report.error = "forbidden (403): meshprobe needs RBAC verb \"list\"";
  const json::object out = json::parse(render_json({}, "local", &report)).as_object();
  EXPECT_EQ(out.at("hygiene").as_array().size(), 0u);
  EXPECT_EQ(out.at("hygiene_error").as_string(), report.error);
}

TEST(CheckJson, AResultSeenFromTheApiServerCarriesThatVantage) {
  const json::object result = result_json(apiserver_result(), "node");
  EXPECT_EQ(result.at("vantage"), "apiserver");
  EXPECT_EQ(result.at("address_labels").at("pod"), "istiod-a");
  EXPECT_EQ(result.at("address_labels").at("ready"), "false");
}

TEST(CheckJson, AResultWithoutLabelsHasNoAddressLabels) {
  ProbeResult plain;
  EXPECT_FALSE(result_json(plain, "node").contains("address_labels"));
  EXPECT_EQ(result_json(plain, "node").at("vantage"), "node");
}

TEST(CheckTable, ListsFindingsWithRemediesAndCountsThem) {
  const HygieneReport report = report_with_mismatch();
  const std::string table = render_table({apiserver_result()}, "bastion", false, &report);
  EXPECT_THAT(table, HasSubstr("HYGIENE"));
  EXPECT_THAT(
      table, HasSubstr("webhook_ca_mismatch  MutatingWebhookConfiguration/istio-sidecar-injector"));
  EXPECT_THAT(table, HasSubstr("remedy   restart istiod"));
  EXPECT_THAT(table, HasSubstr("note     caBundle of X not checked"));
  EXPECT_THAT(table, HasSubstr("1 target, 1 failed, 1 hygiene finding"));
}

TEST(CheckTable, SaysNoFindingsWhenClean) {
  HygieneReport report;
  report.ran = true;
  const std::string table = render_table({}, "bastion", false, &report);
  EXPECT_THAT(table, HasSubstr("no findings"));
  EXPECT_THAT(table, HasSubstr("0 hygiene findings"));
}

TEST(Status, CarriesTheKubernetesConnectionAndHygiene) {
  ResultsStore store;
  KubeStatus kube;
  kube.connection = "in-cluster service account";
  kube.last_refresh = WallClock::time_point{std::chrono::seconds{1764020589}};
  kube.last_refresh_ok = true;
  kube.hygiene = report_with_mismatch();
  const json::object status =
      json::parse(render_status_json(store, {"node", "n1", "0.1.0", "c.yaml"}, &kube)).as_object();
  EXPECT_EQ(status.at("kubernetes").at("connection"), "in-cluster service account");
  EXPECT_EQ(status.at("kubernetes").at("last_refresh"), "2025-11-24T21:43:09Z");
  EXPECT_EQ(status.at("hygiene").as_array().at(0).at("code"), "webhook_ca_mismatch");
}

TEST(Status, ShowsATargetsOwnVantageAndTheEndpointsPod) {
  ResultsStore store;
  auto target = std::make_shared<Target>();
  target->name = "webhook-from-apiserver";
  target->url = "https://istiod.istio-system.svc:443/ready";
  target->vantage = "apiserver";
  store.set_targets({{target, std::chrono::seconds(10)}});
  store.record_round(target->name, {apiserver_result()});
  const AgentIdentity identity{"node", "n1", "0.1.0", "c.yaml"};
  const json::object status = json::parse(render_status_json(store, identity)).as_object();
  EXPECT_EQ(status.at("targets").at(0).at("vantage"), "apiserver");
  EXPECT_EQ(status.at("targets").at(0).at("addresses").at(0).at("address_labels").at("pod"),
            "istiod-a");
  const std::string html = render_status_html(store, identity);
  EXPECT_THAT(html, HasSubstr("istiod-a"));
  EXPECT_THAT(html, HasSubstr("(not ready)"));
  EXPECT_THAT(html, HasSubstr("via apiserver"));
}

TEST(StatusPage, ShowsACheckThatCouldNotRunWithItsRbacAndLinksEachFinding) {
  ResultsStore store;
  KubeStatus kube;
  kube.hygiene = report_without_namespaces();
  const std::string html = render_status_html(store, {"node", "n1", "0.1.0", "c.yaml"}, &kube);
  EXPECT_THAT(html, HasSubstr("check injection_label_unmatched could not run"));
  EXPECT_THAT(html, HasSubstr("needs RBAC: verb &quot;list&quot; on &quot;namespaces&quot;"));
  EXPECT_THAT(html, HasSubstr(R"(<a href="docs/diagnoses.md#webhook_ca_mismatch">)"));
  const json::object status =
      json::parse(render_status_json(store, {"node", "n1", "0.1.0", "c.yaml"}, &kube)).as_object();
  EXPECT_EQ(status.at("kubernetes").at("hygiene_notes").at(0).at("check"),
            "injection_label_unmatched");
  EXPECT_EQ(status.at("hygiene").at(0).at("doc"), "docs/diagnoses.md#webhook_ca_mismatch");
}

TEST(StatusPage, ListsHygieneFindingsEscaped) {
  ResultsStore store;
  KubeStatus kube;
  kube.connection = "kubeconfig <x>";
  kube.hygiene = report_with_mismatch();
  kube.hygiene.findings[0].message = "<script>";
  const std::string html = render_status_html(store, {"node", "n1", "0.1.0", "c.yaml"}, &kube);
  EXPECT_THAT(html, HasSubstr("Webhook hygiene"));
  EXPECT_THAT(html, HasSubstr("webhook_ca_mismatch"));
  EXPECT_THAT(html, HasSubstr("&lt;script&gt;"));
  EXPECT_THAT(html, Not(HasSubstr("<script>")));
  EXPECT_THAT(html, HasSubstr("kubeconfig &lt;x&gt;"));
}

TEST(KubeMetricsText, CountsFindingsByCodeAndListsEachOne) {
  KubeMetrics metrics;
  metrics.set_hygiene(report_with_mismatch());
  const std::string text = metrics.serialize();
  for (std::string_view check : kube::kHygieneCodes) {
    EXPECT_THAT(text, HasSubstr("meshprobe_hygiene_check_success{check=\"" + std::string(check) +
                                "\"} 1\n"));
  }
  EXPECT_THAT(text, HasSubstr("meshprobe_hygiene_findings{code=\"webhook_ca_mismatch\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("meshprobe_hygiene_findings{code=\"webhook_stale_revision\"} 0\n"));
  EXPECT_THAT(text, HasSubstr("meshprobe_hygiene_finding{code=\"webhook_ca_mismatch\",object="
                              "\"MutatingWebhookConfiguration/istio-sidecar-injector\",webhook="
                              "\"rev.namespace.sidecar-injector.istio.io\"} 1\n"));
}

TEST(KubeMetricsText, AFailedCheckHasNoCounts) {
  KubeMetrics metrics;
  HygieneReport report;
  report.ran = true;
  report.error = "forbidden";
  metrics.set_hygiene(report);
  const std::string text = metrics.serialize();
  EXPECT_THAT(text,
              HasSubstr("meshprobe_hygiene_check_success{check=\"webhook_ca_mismatch\"} 0\n"));
  EXPECT_THAT(text, Not(HasSubstr("meshprobe_hygiene_findings{")));
}

TEST(KubeMetricsText, SaysWhichCheckRanAndCountsOnlyThoseThatDid) {
  KubeMetrics metrics;
  metrics.set_hygiene(report_without_namespaces());
  const std::string text = metrics.serialize();
  EXPECT_THAT(text,
              HasSubstr("meshprobe_hygiene_check_success{check=\"injection_label_unmatched\"} "
                        "0\n"));
  EXPECT_THAT(text,
              HasSubstr("meshprobe_hygiene_check_success{check=\"webhook_ca_mismatch\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("meshprobe_hygiene_findings{code=\"webhook_ca_mismatch\"} 1\n"));
  EXPECT_THAT(text,
              Not(HasSubstr("meshprobe_hygiene_findings{code=\"injection_label_unmatched\"}")));
}

TEST(KubeMetricsText, CountsRefreshesByResult) {
  KubeMetrics metrics;
  metrics.record_refresh(true, WallClock::time_point{std::chrono::seconds{1764020589}});
  metrics.record_refresh(false, WallClock::now());
  const std::string text = metrics.serialize();
  EXPECT_THAT(text, HasSubstr("meshprobe_kubernetes_refreshes_total{result=\"success\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("meshprobe_kubernetes_refreshes_total{result=\"failure\"} 1\n"));
  EXPECT_THAT(
      text, HasSubstr("meshprobe_kubernetes_last_refresh_success_timestamp_seconds 1764020589\n"));
}

TEST(KubeMetricsText, ReportsEachDiscoveredAddresssReadiness) {
  auto target = std::make_shared<Target>();
  target->name = "pods";
  target->url = "https://istiod.istio-system.svc:443/ready";
  target->address_labels = {{"10.8.0.12", {{"ready", "true"}}}, {"10.8.1.7", {{"ready", "false"}}}};
  KubeMetrics metrics;
  metrics.set_endpoints({{{target, std::chrono::seconds(10)}, {}, false}}, "node", "n1");
  const std::string text = metrics.serialize();
  EXPECT_THAT(text,
              HasSubstr("meshprobe_endpoint_ready{target=\"pods\",url=\"https://istiod.istio-system"
                        ".svc:443/ready\",vantage=\"node\",node=\"n1\",address=\"10.8.1.7\"} 0\n"));
  EXPECT_THAT(text, HasSubstr("address=\"10.8.0.12\"} 1\n"));
}

// --- observed webhook-call failures -------------------------------------------

kube::ObservedFailures observed_timeouts() {
  kube::ObservedFailureLog log;
  kube::Event event;
  event.ns = "shop";
  event.name = "cart-7d9.17e0";
  event.uid = "u1";
  event.involved_kind = "ReplicaSet";
  event.involved_ns = "shop";
  event.involved_name = "cart-7d9";
  event.reason = "FailedCreate";
  event.message =
      "Error creating: Internal error occurred: failed calling webhook "
      "\"namespace.sidecar-injector.istio.io\": failed to call webhook: Post "
      "\"https://istiod.istio-system.svc:443/inject?timeout=10s\": context deadline exceeded";
  event.count = 3;
  event.last_timestamp = "2026-12-04T10:42:00Z";
  const std::vector<kube::Event> events = {event};
  log.record(events);
  return log.failures();
}

TEST(CheckJson, CarriesTheObservedFailuresWithTheirObjectTimeAndWords) {
  HygieneReport report = report_with_mismatch();
  report.observed = observed_timeouts();
  const json::object out = json::parse(render_json({}, "bastion", &report)).as_object();
  const json::object& observed = out.at("observed").as_object();
  EXPECT_EQ(observed.at("read"), true);
  EXPECT_TRUE(observed.at("error").is_null());
  const json::object& total = observed.at("totals").as_array().at(0).as_object();
  EXPECT_EQ(total.at("webhook"), "namespace.sidecar-injector.istio.io");
  EXPECT_EQ(total.at("diagnosis"), "webhook_timeout");
  EXPECT_EQ(total.at("failures"), 3);
  const json::object& recent = observed.at("recent").as_array().at(0).as_object();
  EXPECT_EQ(recent.at("object"), "ReplicaSet shop/cart-7d9");
  EXPECT_EQ(recent.at("time"), "2026-12-04T10:42:00Z");
  EXPECT_EQ(recent.at("count"), 3);
  EXPECT_THAT(std::string(recent.at("message").as_string()),
              HasSubstr("context deadline exceeded"));
}

TEST(CheckTable, ListsTheObservedFailures) {
  HygieneReport report = report_with_mismatch();
  report.observed = observed_timeouts();
  const std::string table = render_table({}, "bastion", false, &report);
  EXPECT_THAT(table, HasSubstr("OBSERVED"));
  EXPECT_THAT(table, HasSubstr("webhook_timeout  ReplicaSet shop/cart-7d9"));
}

TEST(CheckTable, TheSummaryCountsFailingWebhooks) {
  HygieneReport report;
  report.ran = true;
  kube::WebhookVerdict verdict;
  verdict.webhook = "namespace.sidecar-injector.istio.io";
  verdict.diagnosis = Diagnosis::webhook_timeout;
  verdict.hop = std::string(kube::kHopWebhookCall);
  report.verdicts.push_back(verdict);
  EXPECT_THAT(render_table({}, "bastion", false, &report),
              HasSubstr("0 hygiene findings, 1 webhook failing (vantage bastion)"));
}

TEST(CheckTable, TheSummaryHasNoFailingWebhooksWhenEveryVerdictIsOk) {
  HygieneReport report;
  report.ran = true;
  kube::WebhookVerdict verdict;
  verdict.hop = std::string(kube::kHopInferred);
  report.verdicts.push_back(verdict);
  EXPECT_THAT(render_table({}, "bastion", false, &report), Not(HasSubstr("failing")));
}

TEST(Status, CarriesTheObservedFailures) {
  ResultsStore store;
  KubeStatus kube;
  kube.hygiene = report_with_mismatch();
  kube.hygiene.observed = observed_timeouts();
  const json::object status =
      json::parse(render_status_json(store, {"node", "n1", "0.1.0", "c.yaml"}, &kube)).as_object();
  EXPECT_EQ(status.at("observed").at("recent").as_array().at(0).at("object"),
            "ReplicaSet shop/cart-7d9");
}

TEST(StatusPage, ShowsTheObservedFailures) {
  ResultsStore store;
  KubeStatus kube;
  kube.hygiene = report_with_mismatch();
  kube.hygiene.observed = observed_timeouts();
  const std::string html = render_status_html(store, {"node", "n1", "0.1.0", "c.yaml"}, &kube);
  EXPECT_THAT(html, HasSubstr("Observed webhook failures"));
  EXPECT_THAT(html, HasSubstr("ReplicaSet shop/cart-7d9"));
  EXPECT_THAT(html, HasSubstr("context deadline exceeded"));
}

TEST(KubeMetricsText, CountsWebhookCallFailuresByWebhookAndDiagnosis) {
  KubeMetrics metrics;
  metrics.set_observed(observed_timeouts());
  EXPECT_THAT(metrics.serialize(),
              HasSubstr("meshprobe_webhook_call_failures_total{webhook=\"namespace.sidecar-"
                        "injector.istio.io\",diagnosis=\"webhook_timeout\"} 3\n"));
}

TEST(KubeMetricsText, HasNoWebhookCallFailuresBeforeTheEventsWereRead) {
  KubeMetrics metrics;
  metrics.set_observed({});
  EXPECT_THAT(metrics.serialize(), Not(HasSubstr("meshprobe_webhook_call_failures_total")));
}

}  // namespace
}  // namespace meshprobe
