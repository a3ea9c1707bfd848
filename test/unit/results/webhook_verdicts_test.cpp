// The agent's webhook verdicts as it shows them: the meshprobe_webhook_verdict
// family (one series per webhook, the verdict's code as its label), the
// "verdicts" of /status exactly as `check --output json` prints them, the
// page's Webhooks section, and the join over the store's latest results.
#include "agent/results/webhook_verdicts.h"

#include <boost/json.hpp>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "agent/results/check_report.h"
#include "agent/results/status_page.h"

namespace meshprobe {
namespace {

namespace json = boost::json;
using testing::HasSubstr;
using testing::Not;

const AgentIdentity kIdentity{"node", "n1", "0.1.0", "c.yaml"};

kube::WebhookVerdict verdict(std::string webhook, Diagnosis diagnosis, std::string hop) {
  kube::WebhookVerdict out;
  out.webhook = std::move(webhook);
  out.configuration = "istio-sidecar-injector";
  out.diagnosis = diagnosis;
  out.hop = std::move(hop);
  out.message = "the API server cannot reach istiod pod istiod-abc 10.8.0.12:15017";
  if (diagnosis != Diagnosis::ok) out.remedy = "GKE private cluster: add tcp:15017";
  out.platform = kube::Platform::gke;
  return out;
}

std::vector<kube::WebhookVerdict> three_verdicts() {
  return {verdict("namespace.sidecar-injector.istio.io", Diagnosis::tcp_timeout,
                  std::string(kube::kHopControlPlaneNetwork)),
          verdict("rev.namespace.sidecar-injector.istio.io", Diagnosis::ok,
                  std::string(kube::kHopInferred)),
          verdict("rev.validation.istio.io", Diagnosis::ok, std::string(kube::kHopNone))};
}

TEST(WebhookVerdictMetrics, OneSeriesPerWebhookLabelledWithItsVerdictCode) {
  const std::string text = webhook_verdict_metrics(three_verdicts());
  EXPECT_THAT(text, HasSubstr("# TYPE meshprobe_webhook_verdict gauge\n"));
  EXPECT_THAT(text, HasSubstr("# HELP meshprobe_webhook_verdict 1 for each istio webhook's"));
  EXPECT_THAT(text, HasSubstr("meshprobe_webhook_verdict{configuration=\"istio-sidecar-injector\","
                              "webhook=\"namespace.sidecar-injector.istio.io\","
                              "diagnosis=\"tcp_timeout\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("webhook=\"rev.validation.istio.io\",diagnosis=\"ok\"} 1\n"));
  std::size_t series = 0;
  for (std::size_t at = text.find("\nmeshprobe_webhook_verdict{"); at != std::string::npos;
       at = text.find("\nmeshprobe_webhook_verdict{", at + 1)) {
    ++series;
  }
  EXPECT_EQ(series, 3u);
}

TEST(WebhookVerdictMetrics, AnOkNoCallConfirmedIsUnconfirmedNeverOk) {
  const std::string text = webhook_verdict_metrics(three_verdicts());
  EXPECT_THAT(text, HasSubstr("webhook=\"rev.namespace.sidecar-injector.istio.io\","
                              "diagnosis=\"unconfirmed\"} 1\n"));
  EXPECT_THAT(
      text, Not(HasSubstr("webhook=\"rev.namespace.sidecar-injector.istio.io\",diagnosis=\"ok\"")));
}

TEST(WebhookVerdictMetrics, NoVerdictsNoFamily) { EXPECT_EQ(webhook_verdict_metrics({}), ""); }

TEST(WebhookVerdictMetrics, LabelValuesAreEscaped) {
  auto odd = three_verdicts();
  odd[0].webhook = "a\"b\\c";
  EXPECT_THAT(webhook_verdict_metrics(odd), HasSubstr("webhook=\"a\\\"b\\\\c\""));
}

TEST(WebhookVerdictStatus, CarriesTheVerdictsAsCheckPrintsThem) {
  ResultsStore store;
  KubeStatus kube;
  kube.hygiene.ran = true;
  auto verdicts = three_verdicts();
  verdicts[0].notes = {"nodes: forbidden (403): meshprobe needs RBAC verb \"list\" on \"nodes\""};
  const json::object status =
      json::parse(render_status_json(store, kIdentity, &kube, verdicts)).as_object();
  EXPECT_EQ(status.at("verdicts"), json::value(verdicts_json(verdicts)));
  const json::object& first = status.at("verdicts").at(0).as_object();
  EXPECT_EQ(first.at("diagnosis"), "tcp_timeout");
  EXPECT_EQ(first.at("hop"), "control_plane_network");
  EXPECT_EQ(first.at("platform"), "gke");
  EXPECT_EQ(first.at("notes").at(0), json::value(verdicts[0].notes[0]));
  EXPECT_EQ(status.at("verdicts").at(1).at("diagnosis"), "unconfirmed");
}

TEST(WebhookVerdictStatus, HasNoVerdictsWhenTheHygieneChecksAreOff) {
  ResultsStore store;
  KubeStatus kube;
  const json::object status =
      json::parse(render_status_json(store, kIdentity, &kube, three_verdicts())).as_object();
  EXPECT_FALSE(status.contains("verdicts"));
}

TEST(WebhookVerdictPage, ShowsEachVerdictWithItsHopAndRemedy) {
  ResultsStore store;
  KubeStatus kube;
  kube.hygiene.ran = true;
  const std::string html = render_status_html(store, kIdentity, &kube, three_verdicts());
  EXPECT_THAT(html, HasSubstr("<h2>Webhooks</h2>"));
  EXPECT_THAT(html, HasSubstr(R"(<span class="badge fail">tcp_timeout</span>)"));
  EXPECT_THAT(html, HasSubstr(R"(<span class="badge warn">unconfirmed</span>)"));
  EXPECT_THAT(html, HasSubstr(R"(<span class="badge ok">ok</span>)"));
  EXPECT_THAT(html, HasSubstr("control_plane_network"));
  EXPECT_THAT(html, HasSubstr("GKE private cluster: add tcp:15017"));
}

TEST(WebhookVerdictPage, EscapesWhatTheClusterWrote) {
  ResultsStore store;
  KubeStatus kube;
  kube.hygiene.ran = true;
  auto verdicts = three_verdicts();
  verdicts[0].webhook = "<img src=x>";
  verdicts[0].notes = {"<script>"};
  const std::string html = render_status_html(store, kIdentity, &kube, verdicts);
  EXPECT_THAT(html, HasSubstr("&lt;img src=x&gt;"));
  EXPECT_THAT(html, HasSubstr("&lt;script&gt;"));
  EXPECT_THAT(html, Not(HasSubstr("<script>")));
  EXPECT_THAT(html, Not(HasSubstr("<img")));
}

TEST(WebhookVerdictPage, HasNoWebhooksSectionWithoutVerdicts) {
  ResultsStore store;
  KubeStatus kube;
  kube.hygiene.ran = true;
  EXPECT_THAT(render_status_html(store, kIdentity, &kube), Not(HasSubstr("<h2>Webhooks</h2>")));
}

// A cluster of one injector webhook whose canary namespace it selects.
KubeSnapshot one_webhook_cluster() {
  KubeSnapshot snapshot;
  kube::ClusterView view;
  kube::WebhookConfiguration injector;
  injector.name = "istio-sidecar-injector";
  kube::Webhook hook;
  hook.name = "namespace.sidecar-injector.istio.io";
  hook.service = kube::ServiceReference{"istio-system", "istiod", "/inject", 443};
  injector.webhooks = {hook};
  view.mutating = {injector};
  view.namespaces = {{"meshprobe-canary", {{"istio-injection", "enabled"}}}};
  view.services = {"istiod"};
  snapshot.cluster = view;
  return snapshot;
}

TEST(WebhookVerdictJoin, JoinsTheStoresLatestAdmissionResult) {
  ResultsStore store;
  auto target = std::make_shared<Target>();
  target->name = "injection-dry-run";
  target->url = "admission://inject/meshprobe-canary";
  target->vantage = "apiserver";
  store.set_targets({{target, std::chrono::seconds(10)}});
  ProbeResult call;
  call.target = target->name;
  call.url = target->url;
  call.vantage = "apiserver";
  call.success = true;
  store.record_round(target->name, {call});
  HygieneReport hygiene;
  hygiene.ran = true;
  const KubeSnapshot snapshot = one_webhook_cluster();

  const auto verdicts = current_webhook_verdicts(store, &snapshot, hygiene);

  ASSERT_EQ(verdicts.size(), 1u);
  EXPECT_EQ(kube::verdict_code(verdicts[0]), "ok");
  EXPECT_TRUE(verdicts[0].confirmed());
}

TEST(WebhookVerdictJoin, NoneBeforeTheFirstSnapshotOrWithTheHygieneOff) {
  ResultsStore store;
  HygieneReport hygiene;
  const KubeSnapshot snapshot = one_webhook_cluster();
  EXPECT_TRUE(current_webhook_verdicts(store, &snapshot, hygiene).empty());
  hygiene.ran = true;
  EXPECT_TRUE(current_webhook_verdicts(store, nullptr, hygiene).empty());
  EXPECT_EQ(current_webhook_verdicts(store, &snapshot, hygiene).size(), 1u);
}

}  // namespace
}  // namespace meshprobe
