// `meshprobe explain`: each row of the troubleshooting guide, fed the guide's
// own strings and then the same errors with other revisions, Services,
// namespaces and addresses; and text the guide does not know.
#include "agent/explain.h"

#include <boost/json.hpp>
#include <gtest/gtest.h>

#include <algorithm>
#include <sstream>

#include "kube/hygiene.h"
#include "probes/diagnosis.h"

namespace meshprobe {
namespace {

// The guide's strings, verbatim.
constexpr std::string_view kGuideClientTimeout =
    "net/http: request canceled while waiting for connection (Client.Timeout exceeded while "
    "awaiting headers)";
constexpr std::string_view kGuideNoEndpoints = "no endpoints available for service 'istiod'";
constexpr std::string_view kGuideServiceNotFound = "Service \"istiod\" not found";
constexpr std::string_view kGuideUnknownAuthority = "x509: certificate signed by unknown authority";
constexpr std::string_view kGuideStaleValidator =
    "Failed to update validatingwebhookconfiguration istio-validator-asm-[version-n]-istio-system "
    "(failurePolicy=Fail, resourceVersion=[version]): Operation cannot be fulfilled on "
    "validatingwebhookconfigurations.admissionregistration.k8s.io "
    "\"istio-validator-asm-[version-n]-istio-system\": the object has been modified; please apply "
    "your changes to the latest version and try again.";
constexpr std::string_view kGuideWebhookDeadline =
    "Error from server (InternalError): Internal error occurred: failed calling webhook "
    "\"rev.namespace.sidecar-injector.istio.io\": Post "
    "\"https://istiod-asm-1122-0.istio-system.svc:443/inject?timeout=10s\": context deadline "
    "exceeded";
constexpr std::string_view kGuideDiscoveryAddress =
    "gRPC config stream closed, no healthy upstream";
constexpr std::string_view kGuideRejected =
    "Envoy proxy is NOT ready: config not received from Pilot (is Pilot running?): cds updates: 1 "
    "successful, 0 rejected; lds updates: 0 successful, 1 rejected";

std::vector<std::string_view> ids(const Explanation& explanation) {
  std::vector<std::string_view> out;
  for (const ExplainMatch& match : explanation.matches) out.push_back(match.row->id);
  return out;
}

using Ids = std::vector<std::string_view>;

TEST(ExplainRows, EachRowHasAStableIdTitleCauseRemedyAndHop) {
  Ids seen;
  for (const ExplainRow& row : explain_rows()) {
    EXPECT_FALSE(row.title.empty()) << row.id;
    EXPECT_FALSE(row.cause.empty()) << row.id;
    EXPECT_FALSE(row.remedy.empty()) << row.id;
    EXPECT_FALSE(row.hop.empty()) << row.id;
    EXPECT_EQ(std::count(seen.begin(), seen.end(), row.id), 0) << row.id;
    seen.push_back(row.id);
  }
  EXPECT_EQ(seen, (Ids{"webhook_connection_timeout", "no_endpoints", "service_not_found",
                       "unknown_authority", "stale_validating_webhook", "webhook_deadline",
                       "discovery_address", "rejected_configuration"}));
}

TEST(ExplainRows, EachDiagnosisIsACatalogueOrHygieneCode) {
  for (const ExplainRow& row : explain_rows()) {
    if (row.diagnosis.empty()) continue;
    Diagnosis parsed;
    const bool hygiene = std::find(kube::kHygieneCodes.begin(), kube::kHygieneCodes.end(),
                                   row.diagnosis) != kube::kHygieneCodes.end();
    EXPECT_TRUE(parse_diagnosis(row.diagnosis, parsed) || hygiene) << row.id;
  }
}

// The guide's error table, row by row.

TEST(ExplainGuide, ClientTimeoutWaitingForConnectionIsTheWebhookConnection) {
  const Explanation e = explain(kGuideClientTimeout);
  EXPECT_EQ(ids(e), Ids{"webhook_connection_timeout"});
  EXPECT_EQ(e.matches[0].row->diagnosis, "tcp_timeout");
  EXPECT_EQ(
      e.matches[0].check_commands,
      (std::vector<std::string>{"meshprobe check --kubeconfig ~/.kube/config",
                                "meshprobe check https://istiod.istio-system.svc:15017/ready"}));
}

TEST(ExplainGuide, NoEndpointsForIstiodIsTheServicesEndpoints) {
  const Explanation e = explain(kGuideNoEndpoints);
  EXPECT_EQ(ids(e), Ids{"no_endpoints"});
  EXPECT_EQ(e.matches[0].row->diagnosis, "tcp_refused");
  EXPECT_EQ(e.found.service, "istiod");
  EXPECT_EQ(e.found.revision, "");
}

TEST(ExplainGuide, ServiceIstiodNotFoundIsTheMissingService) {
  const Explanation e = explain(kGuideServiceNotFound);
  EXPECT_EQ(ids(e), Ids{"service_not_found"});
  EXPECT_EQ(e.matches[0].row->diagnosis, "dns_not_found");
  EXPECT_EQ(e.found.service, "istiod");
}

TEST(ExplainGuide, UnknownAuthorityIsTheWebhooksCaBundle) {
  const Explanation e = explain(kGuideUnknownAuthority);
  EXPECT_EQ(ids(e), Ids{"unknown_authority"});
  EXPECT_EQ(e.matches[0].row->diagnosis, "tls_unknown_authority");
}

TEST(ExplainGuide, ObjectModifiedOnAValidatorIsAStaleRevisionsWebhook) {
  const Explanation e = explain(kGuideStaleValidator);
  EXPECT_EQ(ids(e), Ids{"stale_validating_webhook"});
  EXPECT_EQ(e.matches[0].row->diagnosis, "webhook_stale_revision");
  EXPECT_EQ(e.found.webhook, "istio-validator-asm-[version-n]-istio-system");
  // The guide's template names no revision: none is made up from it.
  EXPECT_EQ(e.found.revision, "");
  EXPECT_EQ(e.matches[0].check_commands,
            std::vector<std::string>{"meshprobe check --kubeconfig ~/.kube/config"});
}

TEST(ExplainGuide, WebhookContextDeadlineIsThePrivateClustersPort) {
  const Explanation e = explain(kGuideWebhookDeadline);
  EXPECT_EQ(ids(e), Ids{"webhook_deadline"});
  EXPECT_EQ(e.matches[0].row->diagnosis, "webhook_timeout");
  EXPECT_EQ(e.found.service, "istiod-asm-1122-0");
  EXPECT_EQ(e.found.service_namespace, "istio-system");
  EXPECT_EQ(e.found.revision, "asm-1122-0");
  EXPECT_EQ(e.found.port, "443");
  EXPECT_EQ(e.found.webhook, "rev.namespace.sidecar-injector.istio.io");
  EXPECT_EQ(e.matches[0].check_commands,
            (std::vector<std::string>{
                "meshprobe check --kubeconfig ~/.kube/config --revision asm-1122-0",
                "meshprobe check https://istiod-asm-1122-0.istio-system.svc:443/ready"}));
}

// The guide's section on proxies that receive no configuration.

TEST(ExplainGuide, ConfigStreamClosedNoHealthyUpstreamIsTheDiscoveryAddress) {
  const Explanation e = explain(kGuideDiscoveryAddress);
  EXPECT_EQ(ids(e), Ids{"discovery_address"});
  EXPECT_EQ(e.matches[0].check_commands,
            (std::vector<std::string>{"meshprobe check grpc://istiod.istio-system.svc:15012",
                                      "meshprobe check --kubeconfig ~/.kube/config"}));
}

TEST(ExplainGuide, LdsUpdateRejectedIsARejectedConfiguration) {
  const Explanation e = explain(kGuideRejected);
  EXPECT_EQ(ids(e), Ids{"rejected_configuration"});
  EXPECT_NE(e.matches[0].row->remedy.find("EnvoyFilter"), std::string_view::npos);
  EXPECT_EQ(e.matches[0].check_commands,
            std::vector<std::string>{"meshprobe check grpc://istiod.istio-system.svc:15012"});
}

// The same errors as other clusters print them.

TEST(ExplainVariants, DialTimeoutToARevisionsWebhookNamesItsServiceIpAndChecks) {
  const Explanation e = explain(
      "Error creating: Internal error occurred: failed calling webhook "
      "\"namespace.sidecar-injector.istio.io\": failed to call webhook: Post "
      "\"https://istiod-1-22.istio-system.svc:443/inject?timeout=10s\": dial tcp 10.96.3.4:443: "
      "i/o timeout");
  EXPECT_EQ(ids(e), Ids{"webhook_connection_timeout"});
  EXPECT_EQ(e.found.revision, "1-22");
  EXPECT_EQ(e.found.ips, std::vector<std::string>{"10.96.3.4"});
  EXPECT_EQ(e.found.webhook, "namespace.sidecar-injector.istio.io");
  EXPECT_EQ(
      e.matches[0].check_commands,
      (std::vector<std::string>{"meshprobe check --kubeconfig ~/.kube/config --revision 1-22",
                                "meshprobe check https://istiod-1-22.istio-system.svc:443/ready"}));
}

TEST(ExplainVariants, WebhookDeadlineInAnotherNamespaceAndRevision) {
  const Explanation e = explain(
      "Internal error occurred: failed calling webhook \"rev.validation.istio.io\": failed to "
      "call webhook: Post \"https://istiod-canary.mesh-system.svc:443/validate?timeout=10s\": "
      "context deadline exceeded");
  EXPECT_EQ(ids(e), Ids{"webhook_deadline"});
  EXPECT_EQ(e.found.service_namespace, "mesh-system");
  EXPECT_EQ(e.matches[0].check_commands[1],
            "meshprobe check https://istiod-canary.mesh-system.svc:443/ready");
}

TEST(ExplainVariants, NoEndpointsForARevisionsServiceInDoubleQuotes) {
  const Explanation e = explain("no endpoints available for service \"istiod-1-21\"");
  EXPECT_EQ(ids(e), Ids{"no_endpoints"});
  EXPECT_EQ(e.found.revision, "1-21");
  EXPECT_EQ(e.matches[0].check_commands[0],
            "meshprobe check --kubeconfig ~/.kube/config --revision 1-21");
}

TEST(ExplainVariants, ServiceNotFoundInsideAWebhookCallNamesTheRevision) {
  const Explanation e = explain(
      "failed calling webhook \"object.sidecar-injector.istio.io\": failed to call webhook: Post "
      "\"https://istiod-1-19.istio-system.svc:443/inject?timeout=10s\": service \"istiod-1-19\" "
      "not found");
  EXPECT_EQ(ids(e), Ids{"service_not_found"});
  EXPECT_EQ(e.found.revision, "1-19");
}

TEST(ExplainVariants, UnknownAuthorityInsideAWebhookCall) {
  const Explanation e = explain(
      "failed calling webhook \"namespace.sidecar-injector.istio.io\": failed to call webhook: "
      "Post \"https://istiod.istio-system.svc:443/inject?timeout=10s\": tls: failed to verify "
      "certificate: x509: certificate signed by unknown authority");
  EXPECT_EQ(ids(e), Ids{"unknown_authority"});
}

TEST(ExplainVariants, StaleValidatorOfARealRevisionNamesItsRevision) {
  const Explanation e = explain(
      "Failed to update validatingwebhookconfiguration istio-validator-1-20-istio-system "
      "(failurePolicy=Fail, resourceVersion=81234): Operation cannot be fulfilled on "
      "validatingwebhookconfigurations.admissionregistration.k8s.io "
      "\"istio-validator-1-20-istio-system\": the object has been modified; please apply your "
      "changes to the latest version and try again.");
  EXPECT_EQ(ids(e), Ids{"stale_validating_webhook"});
  EXPECT_EQ(e.found.webhook, "istio-validator-1-20-istio-system");
  EXPECT_EQ(e.found.revision, "1-20");
  EXPECT_EQ(e.found.service_namespace, "istio-system");
}

TEST(ExplainVariants, EnvoyLogOfAWrongDiscoveryAddressChecksThatAddress) {
  const Explanation e = explain(
      "2026-12-04T10:00:00.000Z\twarning\tenvoy config\tStreamAggregatedResources gRPC config "
      "stream closed: 14, no healthy upstream (discovery istiod-1-22.istio-system.svc:15010)");
  EXPECT_EQ(ids(e), Ids{"discovery_address"});
  EXPECT_EQ(e.matches[0].check_commands,
            (std::vector<std::string>{"meshprobe check grpc://istiod-1-22.istio-system.svc:15010",
                                      "meshprobe check --kubeconfig ~/.kube/config"}));
}

// ---- explain --kubeconfig: which check runs ----------------------------------

TEST(ExplainChecks, AWebhookErrorChecksTheRevisionItNames) {
  const Explanation e = explain(
      "Internal error occurred: failed calling webhook \"namespace.sidecar-injector.istio.io\": "
      "failed to call webhook: Post \"https://istiod-asm-1122-0.istio-system.svc:443/"
      "inject?timeout=10s\": context deadline exceeded");
  const CheckOptions check = explain_check_options(e, {"/k/config", ""}, OutputFormat::table);
  EXPECT_EQ(check.kubeconfig, "/k/config");
  EXPECT_EQ(check.revision, "asm-1122-0");
  EXPECT_EQ(explain_check_command(check),
            "meshprobe check --kubeconfig /k/config --revision asm-1122-0");
}

TEST(ExplainChecks, ADiscoveryErrorNamingARevisionChecksTheDefaultMeshConfig) {
  // The address names the revision that is gone: its mesh config is not
  // the one the sidecars were given.
  const Explanation e = explain(
      "gRPC config stream closed: 14, no healthy upstream (discovery "
      "istiod-asm-1121-3.istio-system.svc:15012)");
  const CheckOptions check = explain_check_options(e, {"/k/config", ""}, OutputFormat::json);
  EXPECT_EQ(check.revision, "");
  EXPECT_EQ(check.output, OutputFormat::json);
  EXPECT_EQ(explain_check_command(check), "meshprobe check --kubeconfig /k/config");
}

TEST(ExplainChecks, AGivenRevisionWins) {
  const Explanation e = explain("no healthy upstream");
  EXPECT_EQ(explain_check_options(e, {"/k/config", "1-22"}, OutputFormat::table).revision, "1-22");
}

TEST(ExplainChecks, AnUnrecognisedTextRunsNoCheck) {
  std::ostringstream out;
  std::ostringstream err;
  EXPECT_EQ(explain_and_check(explain("the weather is fine"), {"/nonexistent/kubeconfig", ""},
                              OutputFormat::table, out, err),
            kExplainNotRecognised);
  EXPECT_NE(out.str().find("not recognised"), std::string::npos);
  EXPECT_EQ(err.str(), "");
}

TEST(ExplainVariants, NoHealthyUpstreamAloneIsTheDiscoveryAddress) {
  EXPECT_EQ(ids(explain("upstream connect error: no healthy upstream")), Ids{"discovery_address"});
}

TEST(ExplainVariants, AnyXdsTypeWithRejectedUpdatesIsARejectedConfiguration) {
  const Explanation e = explain(
      "Envoy proxy is NOT ready: config not received from Pilot (is Pilot running?): cds "
      "updates: 3 successful, 12 rejected; lds updates: 2 successful, 0 rejected");
  EXPECT_EQ(ids(e), Ids{"rejected_configuration"});
}

TEST(ExplainVariants, NoRejectedUpdateIsNoRejectedConfiguration) {
  const Explanation e = explain(
      "Envoy proxy is NOT ready: config not received from Pilot (is Pilot running?): cds "
      "updates: 0 successful, 0 rejected; lds updates: 0 successful, 0 rejected");
  EXPECT_TRUE(e.matches.empty());
}

TEST(ExplainVariants, EveryErrorOfSeveralLinesIsMatched) {
  const std::string text = std::string(kGuideNoEndpoints) + "\n" + std::string(kGuideRejected);
  EXPECT_EQ(ids(explain(text)), (Ids{"no_endpoints", "rejected_configuration"}));
}

TEST(ExplainVariants, CaseDoesNotMatter) {
  EXPECT_EQ(ids(explain("X509: Certificate Signed By Unknown Authority")),
            Ids{"unknown_authority"});
}

TEST(ExplainFoundIps, OnlyDottedQuadsOfOctetsAreAddresses) {
  const Explanation e =
      explain("dial tcp 10.96.3.4:443 and 192.168.1.300 and v1.2.3.4 and 10.0.0.1, 10.96.3.4");
  EXPECT_EQ(e.found.ips, (std::vector<std::string>{"10.96.3.4", "10.0.0.1"}));
}

// Text the guide does not know.

TEST(ExplainUnrecognised, UnknownErrorMatchesNoRowAndListsTheClosest) {
  const Explanation e = explain("Envoy proxy is NOT ready: config not received from Pilot");
  EXPECT_TRUE(e.matches.empty());
  ASSERT_FALSE(e.closest.empty());
  EXPECT_EQ(e.closest[0]->id, "rejected_configuration");
}

TEST(ExplainUnrecognised, TextSharingNoWordHasNoClosestRow) {
  const Explanation e = explain("the quick brown fox");
  EXPECT_TRUE(e.matches.empty());
  EXPECT_TRUE(e.closest.empty());
}

TEST(ExplainUnrecognised, AWebhookCallOfAnotherCauseIsNotForcedOntoARow) {
  // A 500 from the webhook: not among the guide's rows.
  const Explanation e = explain(
      "failed calling webhook \"namespace.sidecar-injector.istio.io\": failed to call webhook: "
      "an error on the server (\"boom\") has prevented the request from succeeding");
  EXPECT_TRUE(e.matches.empty());
}

// The output.

TEST(ExplainOutput, JsonHasTheMatchedRowWithWhatWasFound) {
  std::ostringstream out;
  EXPECT_EQ(print_explanation(explain(kGuideWebhookDeadline), OutputFormat::json, out), 0);
  const boost::json::value json = boost::json::parse(out.str());
  EXPECT_EQ(json.at("recognised").as_bool(), true);
  const auto& match = json.at("matches").as_array().at(0);
  EXPECT_EQ(match.at("id").as_string(), "webhook_deadline");
  EXPECT_EQ(match.at("diagnosis").as_string(), "webhook_timeout");
  EXPECT_EQ(match.at("doc").as_string(), "docs/diagnoses.md#webhook_timeout");
  EXPECT_EQ(match.at("check_command").as_string(),
            "meshprobe check --kubeconfig ~/.kube/config --revision asm-1122-0");
  EXPECT_EQ(match.at("found").at("revision").as_string(), "asm-1122-0");
  EXPECT_EQ(match.at("found").at("port").as_string(), "443");
  EXPECT_TRUE(json.at("closest").as_array().empty());
}

TEST(ExplainOutput, UnrecognisedJsonIsNotRecognisedWithClosestRowsAndExitsOne) {
  std::ostringstream out;
  EXPECT_EQ(print_explanation(explain("config not received from Pilot"), OutputFormat::json, out),
            1);
  const boost::json::value json = boost::json::parse(out.str());
  EXPECT_EQ(json.at("recognised").as_bool(), false);
  EXPECT_TRUE(json.at("matches").as_array().empty());
  EXPECT_FALSE(json.at("closest").as_array().empty());
}

TEST(ExplainOutput, TableNamesCauseRemedyHopAndCheck) {
  std::ostringstream out;
  EXPECT_EQ(print_explanation(explain(kGuideDiscoveryAddress), OutputFormat::table, out), 0);
  const std::string table = out.str();
  EXPECT_NE(table.find("discovery_address: "), std::string::npos);
  EXPECT_NE(table.find("  cause:     "), std::string::npos);
  EXPECT_NE(table.find("  remedy:    "), std::string::npos);
  EXPECT_NE(table.find("  hop:       "), std::string::npos);
  EXPECT_NE(table.find("  check:     meshprobe check grpc://istiod.istio-system.svc:15012"),
            std::string::npos);
}

}  // namespace
}  // namespace meshprobe
