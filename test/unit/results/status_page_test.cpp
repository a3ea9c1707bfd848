#include "agent/results/status_page.h"

#include <boost/json.hpp>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace meshprobe {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;
using testing::HasSubstr;
using testing::Not;

const AgentIdentity kIdentity{"node-a", "worker-1", "0.1.0", "/etc/meshprobe/config.yaml"};

std::shared_ptr<const Target> make_target(std::string name, std::string url, ProbeKind kind) {
  auto target = std::make_shared<Target>();
  target->name = std::move(name);
  target->url = std::move(url);
  target->kind = kind;
  target->labels = {{"path", "webhook"}};
  return target;
}

ProbeResult webhook_result(bool success, WallClock::time_point at) {
  ProbeResult result;
  result.target = "istiod-webhook";
  result.url = "https://istiod.istio-system.svc:15017/ready";
  result.kind = ProbeKind::https;
  result.address = "10.96.0.15";
  result.success = success;
  result.started_at = at;
  result.duration = success ? 12ms : 3s;
  result.phases.resolve = 1ms;
  result.phases.connect = 2ms;
  if (success) {
    result.phases.tls = 5ms;
    result.phases.app = 4ms;
    result.http_status = 200;
  } else {
    result.diagnosis = Diagnosis::http_timeout;
    result.failed_phase = Phase::app;
    result.message = "no response within 3s";
  }
  return result;
}

ProbeResult xds_refused(WallClock::time_point at, std::string message) {
  ProbeResult result;
  result.target = "istiod-xds";
  result.url = "grpc://istiod.istio-system.svc:15012";
  result.kind = ProbeKind::grpc;
  result.address = "10.96.0.15";
  result.success = false;
  result.diagnosis = Diagnosis::tcp_refused;
  result.failed_phase = Phase::connect;
  result.message = std::move(message);
  result.started_at = at;
  result.duration = 1ms;
  result.phases.resolve = 1ms;
  result.phases.connect = 1ms;
  return result;
}

class StatusRenderTest : public testing::Test {
 protected:
  void SetUp() override {
    store_.set_targets({
        {make_target("istiod-webhook", "https://istiod.istio-system.svc:15017/ready",
                     ProbeKind::https),
         10s},
        {make_target("istiod-xds", "grpc://istiod.istio-system.svc:15012", ProbeKind::grpc), 30s},
    });
  }

  // The webhook: failed, then two successes. The xds port: refused twice.
  void record_rounds(const std::string& xds_message = "connection refused") {
    const WallClock::time_point start = WallClock::now() - 30s;
    store_.record_round("istiod-webhook", {webhook_result(false, start)});
    store_.record_round("istiod-webhook", {webhook_result(true, start + 10s)});
    store_.record_round("istiod-webhook", {webhook_result(true, start + 20s)});
    store_.record_round("istiod-xds", {xds_refused(start, xds_message)});
    store_.record_round("istiod-xds", {xds_refused(start + 20s, xds_message)});
  }

  json::object status() const {
    return json::parse(render_status_json(store_, kIdentity)).as_object();
  }

  ResultsStore store_;
};

const json::object& first_address(const json::object& status, std::size_t target) {
  return status.at("targets").at(target).at("addresses").at(0).as_object();
}

TEST_F(StatusRenderTest, JsonCarriesTheAgentIdentity) {
  record_rounds();
  const json::object status = this->status();
  EXPECT_EQ(status.at("vantage"), "node-a");
  EXPECT_EQ(status.at("node"), "worker-1");
  EXPECT_EQ(status.at("version"), "0.1.0");
  EXPECT_EQ(status.at("config"), "/etc/meshprobe/config.yaml");
}

TEST_F(StatusRenderTest, JsonDescribesEachTarget) {
  record_rounds();
  const json::object status = this->status();
  const json::array& targets = status.at("targets").as_array();
  ASSERT_EQ(targets.size(), 2U);
  const json::object& webhook = targets.at(0).as_object();
  EXPECT_EQ(webhook.at("name"), "istiod-webhook");
  EXPECT_EQ(webhook.at("url"), "https://istiod.istio-system.svc:15017/ready");
  EXPECT_EQ(webhook.at("kind"), "https");
  EXPECT_EQ(webhook.at("interval").to_number<double>(), 10.0);
  EXPECT_EQ(webhook.at("rounds").to_number<int>(), 3);
  EXPECT_EQ(webhook.at("skipped").to_number<int>(), 0);
  EXPECT_EQ(webhook.at("addresses").as_array().size(), 1U);
  EXPECT_EQ(webhook.at("labels"), (json::object{{"path", "webhook"}}));
}

TEST_F(StatusRenderTest, JsonOkAddressHasItsLastResultStreaksAndHistory) {
  record_rounds();
  const json::object status = this->status();
  const json::object& webhook = first_address(status, 0);
  EXPECT_EQ(webhook.at("address"), "10.96.0.15");
  EXPECT_EQ(webhook.at("success"), true);
  EXPECT_EQ(webhook.at("diagnosis"), "ok");
  EXPECT_TRUE(webhook.at("failed_phase").is_null());
  EXPECT_EQ(webhook.at("http_status").to_number<int>(), 200);
  EXPECT_NEAR(webhook.at("phases").at("tls").to_number<double>(), 0.005, 1e-9);
  EXPECT_TRUE(webhook.at("last_success").is_string());
  EXPECT_EQ(webhook.at("consecutive_successes").to_number<int>(), 2);
  EXPECT_EQ(webhook.at("consecutive_failures").to_number<int>(), 0);
  EXPECT_EQ(webhook.at("transitions").to_number<int>(), 1);
  EXPECT_EQ(webhook.at("probes").to_number<int>(), 3);

  const json::array& history = webhook.at("history").as_array();
  ASSERT_EQ(history.size(), 3U);
  EXPECT_EQ(history.at(0).at("success"), false);
  EXPECT_EQ(history.at(0).at("diagnosis"), "http_timeout");
  EXPECT_EQ(history.at(0).at("duration").to_number<double>(), 3.0);
  EXPECT_EQ(history.at(2).at("success"), true);
  EXPECT_TRUE(history.at(2).at("at").is_string());
}

TEST_F(StatusRenderTest, JsonFailingAddressHasDiagnosisRemedyAndNoLastSuccess) {
  record_rounds();
  const json::object status = this->status();
  const json::object& xds = first_address(status, 1);
  EXPECT_EQ(xds.at("success"), false);
  EXPECT_EQ(xds.at("diagnosis"), "tcp_refused");
  EXPECT_EQ(xds.at("failed_phase"), "connect");
  EXPECT_EQ(xds.at("message"), "connection refused");
  EXPECT_EQ(xds.at("remedy").as_string(), remedy(Diagnosis::tcp_refused));
  EXPECT_TRUE(xds.at("last_success").is_null());
  EXPECT_EQ(xds.at("consecutive_failures").to_number<int>(), 2);
  EXPECT_EQ(xds.at("history").as_array().size(), 2U);
}

TEST_F(StatusRenderTest, JsonTimestampsAreRfc3339) {
  record_rounds();
  const json::object status = this->status();
  const json::object& webhook = first_address(status, 0);
  const std::string at(webhook.at("history").at(0).at("at").as_string());
  EXPECT_EQ(at.size(), 20U) << at;  // 2025-11-24T21:43:09Z
  EXPECT_EQ(at.back(), 'Z');
  EXPECT_EQ(at[10], 'T');
}

TEST_F(StatusRenderTest, JsonReadyFollowsTheFirstRound) {
  EXPECT_EQ(status().at("ready"), false);
  store_.record_round("istiod-webhook", {webhook_result(true, WallClock::now())});
  EXPECT_EQ(status().at("ready"), false);
  store_.record_round("istiod-xds", {xds_refused(WallClock::now(), "refused")});
  EXPECT_EQ(status().at("ready"), true);
}

TEST_F(StatusRenderTest, JsonTargetWithoutARoundHasNoAddresses) {
  const json::object status = this->status();
  EXPECT_TRUE(status.at("targets").at(0).at("addresses").as_array().empty());
}

TEST_F(StatusRenderTest, HtmlEscapesAHostileMessage) {
  record_rounds("server said <script>alert(1)</script> & \"bye\"");
  const std::string html = render_status_html(store_, kIdentity);
  EXPECT_THAT(html, Not(HasSubstr("<script>")));
  EXPECT_THAT(html, HasSubstr("&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;bye&quot;"));
}

TEST_F(StatusRenderTest, HtmlEscapesTargetNamesAndIdentity) {
  store_.set_targets({{make_target("<b>evil</b>", "tcp://a:1/<i>", ProbeKind::tcp), 10s}});
  const AgentIdentity identity{"<vantage>", "<node>", "<v>", ""};
  const std::string html = render_status_html(store_, identity);
  EXPECT_THAT(html, Not(HasSubstr("<b>evil")));
  EXPECT_THAT(html, Not(HasSubstr("<i>")));
  EXPECT_THAT(html, Not(HasSubstr("<vantage>")));
  EXPECT_THAT(html, HasSubstr("&lt;b&gt;evil&lt;/b&gt;"));
}

TEST_F(StatusRenderTest, HtmlHasASparklineWhenThereIsHistory) {
  record_rounds();
  const std::string html = render_status_html(store_, kIdentity);
  EXPECT_THAT(html, HasSubstr("<svg"));
  EXPECT_THAT(html, HasSubstr("<polyline"));
  EXPECT_THAT(html, HasSubstr("<circle"));  // the failed probes
}

TEST_F(StatusRenderTest, HtmlHasNoSparklineBeforeTheFirstRound) {
  const std::string html = render_status_html(store_, kIdentity);
  EXPECT_THAT(html, Not(HasSubstr("<svg")));
  EXPECT_THAT(html, HasSubstr("pending"));
}

TEST_F(StatusRenderTest, HtmlShowsStatusDiagnosisRemedyAndLastSuccess) {
  record_rounds();
  const std::string html = render_status_html(store_, kIdentity);
  EXPECT_THAT(html, HasSubstr(R"(<span class="badge ok">ok</span>)"));
  EXPECT_THAT(html, HasSubstr(R"(<span class="badge fail">failing</span>)"));
  EXPECT_THAT(html, HasSubstr("tcp_refused"));
  EXPECT_THAT(html, HasSubstr("10 s ago"));
  EXPECT_THAT(html, HasSubstr("never"));
  EXPECT_THAT(html, HasSubstr("12.0 ms"));
}

TEST_F(StatusRenderTest, HtmlMarksAWarningYellow) {
  ProbeResult result = webhook_result(true, WallClock::now());
  result.warnings.push_back({"tls_expiring_soon", "certificate expires in 3 days"});
  store_.record_round("istiod-webhook", {result});
  const std::string html = render_status_html(store_, kIdentity);
  EXPECT_THAT(html, HasSubstr(R"(<span class="badge warn">warning</span>)"));
  EXPECT_THAT(html, HasSubstr("tls_expiring_soon: certificate expires in 3 days"));
}

TEST_F(StatusRenderTest, GrpcCallIsInTheJsonAndOnThePage) {
  ProbeResult result = xds_refused(WallClock::now(), "");
  result.success = true;
  result.diagnosis = Diagnosis::ok;
  result.failed_phase.reset();
  result.grpc = GrpcInfo{};
  result.grpc->method = "/grpc.health.v1.Health/Check";
  result.grpc->status = 12;
  store_.record_round("istiod-xds", {result});

  EXPECT_EQ(first_address(status(), 1).at("grpc").at("status_name"), "UNIMPLEMENTED");
  EXPECT_THAT(render_status_html(store_, kIdentity),
              HasSubstr("gRPC /grpc.health.v1.Health/Check: grpc-status 12 UNIMPLEMENTED"));
}

TEST_F(StatusRenderTest, HtmlIsSelfContained) {
  record_rounds();
  const std::string html = render_status_html(store_, kIdentity);
  EXPECT_THAT(html, Not(HasSubstr("<script")));
  EXPECT_THAT(html, Not(HasSubstr("src=")));
  EXPECT_THAT(html, Not(HasSubstr("<link")));  // no stylesheet or anything else to load
  EXPECT_THAT(html, HasSubstr("<!DOCTYPE html>"));
}

TEST_F(StatusRenderTest, EachDiagnosisLinksToItsSectionOfTheDiagnosesPage) {
  record_rounds();
  const std::string html = render_status_html(store_, kIdentity);
  EXPECT_THAT(html, HasSubstr(R"(<a href="docs/diagnoses.md#tcp_refused">tcp_refused</a>)"));
  EXPECT_EQ(first_address(status(), 1).at("doc"), "docs/diagnoses.md#tcp_refused");
}

}  // namespace
}  // namespace meshprobe
