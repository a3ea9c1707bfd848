#include "agent/results/check_report.h"

#include <boost/json.hpp>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <regex>
#include <sstream>

namespace meshprobe {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;
using testing::HasSubstr;
using testing::Not;

// 2026-11-24T21:43:09Z
constexpr WallClock::time_point kNotAfter{std::chrono::seconds{1795556589}};
// 2025-11-24T21:43:09Z
constexpr WallClock::time_point kNotBefore{std::chrono::seconds{1764020589}};

TlsInfo istiod_tls(bool verified) {
  CertSummary leaf;
  leaf.subject = "";
  leaf.issuer = "O=cluster.local";
  leaf.serial = "1f2e3d";
  leaf.sha256 = "ab12cd34";
  leaf.not_before = kNotBefore;
  leaf.not_after = kNotAfter;
  leaf.sans = {"istiod.istio-system.svc", "istiod-1-24.istio-system.svc"};
  TlsInfo tls;
  tls.version = "TLSv1.3";
  tls.cipher = "TLS_AES_128_GCM_SHA256";
  tls.alpn = "http/1.1";
  tls.chain = {leaf};
  tls.verified = verified;
  return tls;
}

ProbeResult webhook_ok() {
  ProbeResult result;
  result.target = "istiod-webhook";
  result.url = "https://istiod.istio-system.svc:15017/ready";
  result.kind = ProbeKind::https;
  result.address = "10.96.0.15";
  result.success = true;
  result.diagnosis = Diagnosis::ok;
  result.duration = 12ms;
  result.phases.resolve = 1ms;
  result.phases.connect = 2ms;
  result.phases.tls = 5ms;
  result.phases.app = 4ms;
  result.tls = istiod_tls(true);
  result.http_status = 200;
  return result;
}

ProbeResult webhook_untrusted() {
  ProbeResult result;
  result.target = "istiod-webhook-pod";
  result.url = "https://istiod.istio-system.svc:15017/ready";
  result.kind = ProbeKind::https;
  result.address = "10.8.1.23";
  result.success = false;
  result.diagnosis = Diagnosis::tls_unknown_authority;
  result.failed_phase = Phase::tls;
  result.message = "certificate verify failed: unable to get local issuer";
  result.duration = 9ms;
  result.phases.resolve = 1ms;
  result.phases.connect = 2ms;
  result.phases.tls = 6ms;
  result.tls = istiod_tls(false);
  return result;
}

ProbeResult xds_timeout() {
  ProbeResult result;
  result.target = "istiod-xds";
  result.url = "grpc://istiod.istio-system.svc:15012";
  result.kind = ProbeKind::grpc;
  result.address = "10.96.0.15";
  result.success = false;
  result.diagnosis = Diagnosis::tcp_timeout;
  result.failed_phase = Phase::connect;
  result.message = "no answer to the SYN within 3s";
  result.duration = 3s;
  result.phases.resolve = 1ms;
  result.phases.connect = 2999ms;
  return result;
}

// grpc-go's health service absent: a gRPC answer all the same.
ProbeResult xds_unimplemented() {
  ProbeResult result;
  result.target = "istiod-xds";
  result.url = "grpc://istiod.istio-system.svc:15012";
  result.kind = ProbeKind::grpc;
  result.address = "10.96.0.15";
  result.success = true;
  result.diagnosis = Diagnosis::ok;
  result.duration = 9ms;
  GrpcInfo grpc;
  grpc.method = "/grpc.health.v1.Health/Check";
  grpc.http_status = 200;
  grpc.content_type = "application/grpc";
  grpc.status = 12;
  grpc.message = "unknown service grpc.health.v1.Health";
  result.grpc = grpc;
  return result;
}

// grpc:// at the webhook port: HTTP/2, but Go's 404 page.
ProbeResult xds_at_webhook_port() {
  ProbeResult result = xds_unimplemented();
  result.success = false;
  result.diagnosis = Diagnosis::grpc_not_grpc;
  result.failed_phase = Phase::app;
  result.grpc->http_status = 404;
  result.grpc->content_type = "text/plain; charset=utf-8";
  result.grpc->status.reset();
  result.grpc->message.clear();
  return result;
}

json::object parse_report(const std::vector<ProbeResult>& results) {
  return json::parse(render_json(results, "bastion")).as_object();
}

json::object first_result(const ProbeResult& result) {
  return parse_report({result}).at("results").at(0).as_object();
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

std::string without_escapes(const std::string& text) {
  static const std::regex kEscape("\x1b\\[[0-9;]*m");
  return std::regex_replace(text, kEscape, "");
}

// ---- JSON -----------------------------------------------------------------

TEST(RenderJson, IsOneObjectFollowedByANewline) {
  const std::string text = render_json({webhook_ok()}, "bastion");
  ASSERT_FALSE(text.empty());
  EXPECT_EQ(text.back(), '\n');
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 1);
  EXPECT_TRUE(json::parse(text).is_object());
}

TEST(RenderJson, SummaryCountsResultsAndFailures) {
  const json::object report = parse_report({webhook_ok(), webhook_untrusted(), xds_timeout()});
  EXPECT_EQ(report.at("summary"), json::parse(R"({"total":3,"failed":2})"));
}

HygieneReport with_verdicts() {
  HygieneReport hygiene;
  hygiene.ran = true;
  kube::WebhookVerdict inferred;
  inferred.webhook = "rev.namespace.sidecar-injector.istio.io";
  inferred.configuration = "istio-sidecar-injector";
  inferred.hop = std::string(kube::kHopInferred);
  inferred.message = "not confirmed, no admission call was made";
  kube::WebhookVerdict blocked;
  blocked.webhook = "namespace.sidecar-injector.istio.io";
  blocked.configuration = "istio-sidecar-injector";
  blocked.diagnosis = Diagnosis::tcp_timeout;
  blocked.hop = std::string(kube::kHopControlPlaneNetwork);
  blocked.message = "the API server cannot reach istiod pod 10.8.0.12:15017";
  blocked.remedy = "allow TCP 15017 from the control plane";
  hygiene.verdicts = {inferred, blocked};
  return hygiene;
}

TEST(RenderJson, AVerdictWithoutTheRealCallIsUnconfirmedNeverOk) {
  const HygieneReport hygiene = with_verdicts();
  const json::value report = json::parse(render_json({}, "bastion", &hygiene));
  const json::object& inferred = report.at("verdicts").at(0).as_object();
  EXPECT_EQ(inferred.at("diagnosis"), "unconfirmed");
  EXPECT_EQ(inferred.at("confirmed"), false);
  EXPECT_FALSE(inferred.contains("doc"));
  const json::object& blocked = report.at("verdicts").at(1).as_object();
  EXPECT_EQ(blocked.at("diagnosis"), "tcp_timeout");
  EXPECT_EQ(blocked.at("hop"), "control_plane_network");
  EXPECT_EQ(blocked.at("doc"), "docs/diagnoses.md#tcp_timeout");
}

TEST(RenderTable, WebhookVerdictsFollowTheHygieneWithTheirHopAndRemedy) {
  const HygieneReport hygiene = with_verdicts();
  const std::string table = render_table({}, "bastion", false, &hygiene);
  EXPECT_THAT(table, HasSubstr("WEBHOOKS\n"));
  EXPECT_THAT(table,
              HasSubstr("unconfirmed  rev.namespace.sidecar-injector.istio.io  hop inferred"));
  EXPECT_THAT(
      table,
      HasSubstr("tcp_timeout  namespace.sidecar-injector.istio.io  hop control_plane_network"));
  EXPECT_THAT(table, HasSubstr("allow TCP 15017 from the control plane"));
}

TEST(RenderJson, EmptyRunHasNoResultsAndZeroCounts) {
  EXPECT_EQ(json::value(parse_report({})),
            json::parse(R"({"results":[],"summary":{"total":0,"failed":0}})"));
}

TEST(RenderJson, ResultNamesTargetUrlAddressAndVantage) {
  const json::object result = first_result(webhook_ok());
  EXPECT_EQ(result.at("name"), "istiod-webhook");
  EXPECT_EQ(result.at("url"), "https://istiod.istio-system.svc:15017/ready");
  EXPECT_EQ(result.at("address"), "10.96.0.15");
  EXPECT_EQ(result.at("vantage"), "bastion");
  EXPECT_EQ(result.at("kind"), "https");
}

TEST(RenderJson, SuccessHasDiagnosisOkAndEmptyRemedy) {
  const json::object result = first_result(webhook_ok());
  EXPECT_EQ(result.at("success"), true);
  EXPECT_EQ(result.at("diagnosis"), "ok");
  EXPECT_EQ(result.at("remedy"), "");
  EXPECT_TRUE(result.at("failed_phase").is_null());
}

TEST(RenderJson, FailureCarriesDiagnosisMessageAndRemedy) {
  const json::object result = first_result(webhook_untrusted());
  EXPECT_EQ(result.at("success"), false);
  EXPECT_EQ(result.at("diagnosis"), "tls_unknown_authority");
  EXPECT_EQ(result.at("failed_phase"), "tls");
  EXPECT_EQ(result.at("message"), "certificate verify failed: unable to get local issuer");
  EXPECT_EQ(result.at("meaning"), json::string(meaning(Diagnosis::tls_unknown_authority)));
  EXPECT_EQ(result.at("remedy"), json::string(remedy(Diagnosis::tls_unknown_authority)));
}

TEST(RenderJson, EveryResultLinksToItsDiagnosisSection) {
  EXPECT_EQ(first_result(webhook_untrusted()).at("doc"), "docs/diagnoses.md#tls_unknown_authority");
  EXPECT_EQ(first_result(webhook_ok()).at("doc"), "docs/diagnoses.md#ok");
}

TEST(RenderJson, PhasesAreInSeconds) {
  const json::object phases = first_result(webhook_ok()).at("phases").as_object();
  EXPECT_DOUBLE_EQ(phases.at("resolve").as_double(), 0.001);
  EXPECT_DOUBLE_EQ(phases.at("connect").as_double(), 0.002);
  EXPECT_DOUBLE_EQ(phases.at("tls").as_double(), 0.005);
  EXPECT_DOUBLE_EQ(phases.at("app").as_double(), 0.004);
}

TEST(RenderJson, PhasesThatDidNotRunAreLeftOut) {
  const json::object phases = first_result(xds_timeout()).at("phases").as_object();
  EXPECT_TRUE(phases.contains("resolve"));
  EXPECT_TRUE(phases.contains("connect"));
  EXPECT_FALSE(phases.contains("tls"));
  EXPECT_FALSE(phases.contains("app"));
}

TEST(RenderJson, DurationIsTheWholeAttemptInSeconds) {
  EXPECT_DOUBLE_EQ(first_result(xds_timeout()).at("duration").as_double(), 3.0);
}

TEST(RenderJson, TlsDescribesTheHandshake) {
  const json::object tls = first_result(webhook_untrusted()).at("tls").as_object();
  EXPECT_EQ(tls.at("version"), "TLSv1.3");
  EXPECT_EQ(tls.at("cipher"), "TLS_AES_128_GCM_SHA256");
  EXPECT_EQ(tls.at("alpn"), "http/1.1");
  EXPECT_EQ(tls.at("verified"), false);
}

TEST(RenderJson, TlsSaysAFullHandshakeVerifiedTheChainJustNow) {
  const json::object tls = first_result(webhook_untrusted()).at("tls").as_object();
  EXPECT_EQ(tls.at("handshake"), "full");
  EXPECT_DOUBLE_EQ(tls.at("verified_age_seconds").as_double(), 0.0);
}

TEST(RenderJson, TlsOfAResumedHandshakeGivesTheAgeOfItsFullVerification) {
  ProbeResult resumed = webhook_ok();
  resumed.tls->handshake = HandshakeKind::resumed;
  resumed.tls->verified_age = std::chrono::milliseconds(42500);

  const json::object tls = first_result(resumed).at("tls").as_object();

  EXPECT_EQ(tls.at("handshake"), "resumed");
  EXPECT_DOUBLE_EQ(tls.at("verified_age_seconds").as_double(), 42.5);
}

TEST(RenderJson, TlsChainListsEachCertificateWithRfc3339Times) {
  const json::object tls = first_result(webhook_untrusted()).at("tls").as_object();
  EXPECT_EQ(tls.at("chain"), json::parse(R"([{
      "subject": "", "issuer": "O=cluster.local", "serial": "1f2e3d",
      "sha256": "ab12cd34",
      "not_before": "2025-11-24T21:43:09Z", "not_after": "2026-11-24T21:43:09Z",
      "sans": ["istiod.istio-system.svc", "istiod-1-24.istio-system.svc"]}])"));
}

TEST(RenderJson, TlsIsLeftOutWhenNoHandshakeHappened) {
  EXPECT_FALSE(first_result(xds_timeout()).contains("tls"));
}

TEST(RenderJson, HttpsResultCarriesTheStatus) {
  EXPECT_EQ(first_result(webhook_ok()).at("http_status"), 200);
}

TEST(RenderJson, HttpsStatusIsNullWhenNoStatusLineArrived) {
  EXPECT_TRUE(first_result(webhook_untrusted()).at("http_status").is_null());
}

TEST(RenderJson, NonHttpsResultHasNoStatus) {
  EXPECT_FALSE(first_result(xds_timeout()).contains("http_status"));
}

TEST(RenderJson, WarningsListCodeAndMessage) {
  ProbeResult result = webhook_ok();
  result.warnings = {{"tls_expiring_soon", "the leaf expires in 5 days"}};
  EXPECT_EQ(first_result(result).at("warnings"), json::parse(R"([{"code": "tls_expiring_soon",
                            "message": "the leaf expires in 5 days"}])"));
}

TEST(RenderJson, AddressIsNullWhenResolutionFailed) {
  ProbeResult result = xds_timeout();
  result.address.clear();
  result.diagnosis = Diagnosis::dns_not_found;
  EXPECT_TRUE(first_result(result).at("address").is_null());
}

TEST(RenderJson, GrpcResultCarriesTheCallWithItsStatusByNumberAndName) {
  EXPECT_EQ(first_result(xds_unimplemented()).at("grpc"), json::parse(R"({
    "method": "/grpc.health.v1.Health/Check", "http_status": 200,
    "content_type": "application/grpc", "status": 12, "status_name": "UNIMPLEMENTED",
    "message": "unknown service grpc.health.v1.Health", "serving_status": null})"));
}

TEST(RenderJson, GrpcAnswerWithoutAStatusKeepsTheHttpStatusAndContentType) {
  const json::object grpc = first_result(xds_at_webhook_port()).at("grpc").as_object();
  EXPECT_EQ(grpc.at("http_status"), 404);
  EXPECT_EQ(grpc.at("content_type"), "text/plain; charset=utf-8");
  EXPECT_TRUE(grpc.at("status").is_null());
  EXPECT_TRUE(grpc.at("status_name").is_null());
}

TEST(RenderJson, GrpcIsNullWhenTheCallNeverWentOut) {
  EXPECT_TRUE(first_result(xds_timeout()).at("grpc").is_null());
}

TEST(RenderJson, NonGrpcResultHasNoGrpc) {
  EXPECT_FALSE(first_result(webhook_ok()).contains("grpc"));
}

// ---- table ----------------------------------------------------------------

TEST(RenderTable, ShowsAddressAndDiagnosisOfAFailure) {
  const std::string table = render_table({xds_timeout()}, "bastion", false);
  EXPECT_THAT(table, HasSubstr("10.96.0.15"));
  EXPECT_THAT(table, HasSubstr("FAIL"));
  EXPECT_THAT(table, HasSubstr("tcp_timeout"));
}

TEST(RenderTable, ShowsTheMessageOfAFailure) {
  EXPECT_THAT(render_table({xds_timeout()}, "bastion", false),
              HasSubstr("no answer to the SYN within 3s"));
}

TEST(RenderTable, ShowsTheRemedyOfAFailure) {
  const std::string table = render_table({webhook_untrusted()}, "bastion", false);
  EXPECT_THAT(table, HasSubstr("remedy   re-patch the webhook caBundle"));
}

TEST(RenderTable, ShowsTheDiagnosisSectionOfAFailure) {
  const std::string table = render_table({webhook_untrusted()}, "bastion", false);
  EXPECT_THAT(table, HasSubstr("doc      docs/diagnoses.md#tls_unknown_authority"));
}

TEST(RenderTable, ShowsNoRemedyForSuccess) {
  EXPECT_THAT(render_table({webhook_ok()}, "bastion", false), Not(HasSubstr("remedy")));
}

TEST(RenderTable, AlignsColumns) {
  const std::vector<std::string> lines =
      lines_of(render_table({webhook_ok(), webhook_untrusted()}, "bastion", false));
  const std::size_t address_column = lines[0].find("ADDRESS");
  EXPECT_EQ(lines[1].find("10.96.0.15"), address_column);
  EXPECT_EQ(lines[2].find("10.8.1.23"), address_column);
}

TEST(RenderTable, WrapsLongNotesWithinOneHundredColumns) {
  for (const std::string& line : lines_of(render_table({xds_timeout()}, "bastion", false))) {
    EXPECT_LE(line.size(), 100u) << line;
  }
}

TEST(RenderTable, ShowsWarningsOfASuccess) {
  ProbeResult result = webhook_ok();
  result.warnings = {{"tls_expiring_soon", "the leaf expires in 5 days"}};
  EXPECT_THAT(render_table({result}, "bastion", false),
              HasSubstr("warning  tls_expiring_soon: the leaf expires in 5 days"));
}

TEST(RenderTable, ShowsTheGrpcStatusOfTheCall) {
  EXPECT_THAT(render_table({xds_unimplemented()}, "bastion", false),
              HasSubstr("grpc     /grpc.health.v1.Health/Check: grpc-status 12 UNIMPLEMENTED"));
}

TEST(RenderTable, ShowsTheHttpAnswerOfAPortThatIsNotGrpc) {
  EXPECT_THAT(render_table({xds_at_webhook_port()}, "bastion", false),
              HasSubstr("grpc     /grpc.health.v1.Health/Check: no grpc-status; HTTP 404"));
}

TEST(RenderTable, EndsWithASummaryOfTargetsAndFailures) {
  const std::vector<std::string> lines =
      lines_of(render_table({webhook_ok(), webhook_untrusted(), xds_timeout()}, "bastion", false));
  EXPECT_EQ(lines.back(), "3 targets, 2 failed (vantage bastion)");
}

TEST(RenderTable, HasNoEscapesWithoutColor) {
  const std::string table = render_table({webhook_ok(), xds_timeout()}, "bastion", false);
  EXPECT_THAT(table, Not(HasSubstr("\x1b")));
}

TEST(RenderTable, PaintsFailuresRedWithColor) {
  EXPECT_THAT(render_table({xds_timeout()}, "bastion", true), HasSubstr("\x1b[31mFAIL\x1b[0m"));
}

TEST(RenderTable, PaintsSuccessGreenWithColor) {
  EXPECT_THAT(render_table({webhook_ok()}, "bastion", true), HasSubstr("\x1b[32mok\x1b[0m"));
}

TEST(RenderTable, PaintsWarningsYellowWithColor) {
  ProbeResult result = webhook_ok();
  result.warnings = {{"tls_expiring_soon", "the leaf expires in 5 days"}};
  EXPECT_THAT(render_table({result}, "bastion", true), HasSubstr("\x1b[33mwarning\x1b[0m"));
}

TEST(RenderTable, ColorAddsOnlyEscapes) {
  const std::vector<ProbeResult> results = {webhook_ok(), xds_timeout()};
  EXPECT_EQ(without_escapes(render_table(results, "bastion", true)),
            render_table(results, "bastion", false));
}

TEST(RenderTable, NeutralisesControlCharactersFromTheServer) {
  ProbeResult result = xds_timeout();
  result.message = "garbage \x1b[2J from the peer";
  EXPECT_THAT(render_table({result}, "bastion", false), HasSubstr("garbage ?[2J from the peer"));
}

// ---- negative tests (expect:) -----------------------------------------------

// xds_timeout() from a target that must stay blocked, as the prober judges it.
ProbeResult xds_blocked_as_expected() {
  ProbeResult result = xds_timeout();
  result.expect = kBlocked;
  apply_expectation(result);
  return result;
}

TEST(RenderJson, ExpectedBlockCarriesTheExpectationAndWhatWasObserved) {
  const json::object result = first_result(xds_blocked_as_expected());
  EXPECT_EQ(result.at("success"), true);
  EXPECT_EQ(result.at("diagnosis"), "ok");
  EXPECT_EQ(result.at("observed"), "tcp_timeout");
  EXPECT_EQ(result.at("expect"), (json::array{"tcp_timeout", "tcp_refused", "tcp_unreachable"}));
}

TEST(RenderJson, ResultWithoutExpectationHasNeitherExpectNorObserved) {
  const json::object result = first_result(xds_timeout());
  EXPECT_FALSE(result.contains("expect"));
  EXPECT_FALSE(result.contains("observed"));
}

TEST(RenderTable, ExpectedBlockReadsBlockedExpectedWithTheRawDiagnosis) {
  const std::string table = render_table({xds_blocked_as_expected()}, "bastion", false);
  EXPECT_THAT(table, HasSubstr("blocked (expected)"));
  EXPECT_THAT(table, HasSubstr("tcp_timeout"));
  EXPECT_THAT(table, Not(HasSubstr("FAIL")));
  EXPECT_THAT(table, HasSubstr("0 failed"));
}

TEST(RenderTable, PathThatOpenedFailsWithUnexpectedlyReachableAndItsRemedy) {
  ProbeResult result = webhook_ok();
  result.expect = kBlocked;
  apply_expectation(result);
  const std::string table = render_table({result}, "bastion", false);
  EXPECT_THAT(table, HasSubstr("FAIL"));
  EXPECT_THAT(table, HasSubstr("unexpectedly_reachable"));
  EXPECT_THAT(table, HasSubstr("remedy   restore the firewall rule"));
}

}  // namespace
}  // namespace meshprobe
