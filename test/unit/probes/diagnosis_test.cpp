#include "probes/diagnosis.h"

#include <gtest/gtest.h>

#include <set>
#include <string>

namespace meshprobe {
namespace {

std::set<std::string> all_codes() {
  std::set<std::string> codes;
  for (Diagnosis d : kAllDiagnoses) codes.emplace(code(d));
  return codes;
}

TEST(Diagnosis, EveryCodeParsesBackToItsDiagnosis) {
  for (Diagnosis d : kAllDiagnoses) {
    Diagnosis parsed = Diagnosis::ok;
    ASSERT_TRUE(parse_diagnosis(code(d), parsed)) << code(d);
    EXPECT_EQ(parsed, d) << code(d);
  }
}

TEST(Diagnosis, ParseRefusesTextThatIsNoCode) {
  Diagnosis parsed = Diagnosis::tcp_timeout;
  EXPECT_FALSE(parse_diagnosis("connection_refused", parsed));
  EXPECT_EQ(parsed, Diagnosis::tcp_timeout);
}

TEST(Diagnosis, CodesAreUnique) { EXPECT_EQ(all_codes().size(), std::size(kAllDiagnoses)); }

TEST(Diagnosis, EveryFailureExplainsItselfAndSaysWhatToDo) {
  for (Diagnosis d : kAllDiagnoses) {
    if (d == Diagnosis::ok) continue;
    EXPECT_FALSE(meaning(d).empty()) << code(d);
    EXPECT_FALSE(remedy(d).empty()) << code(d);
  }
}

TEST(Diagnosis, OkNeedsNoRemedy) { EXPECT_TRUE(remedy(Diagnosis::ok).empty()); }

TEST(Diagnosis, CatalogueIsTheSpecCodesPlusTheEngineAdditions) {
  const std::set<std::string> spec_section_5 = {
      "ok",
      "dns_not_found",
      "dns_failure",
      "tcp_timeout",
      "tcp_refused",
      "tcp_unreachable",
      "tls_timeout",
      "tls_protocol_error",
      "tls_unknown_authority",
      "tls_name_mismatch",
      "tls_expired",
      "tls_not_yet_valid",
      "http_timeout",
      "http_unexpected_status",
      "grpc_not_h2",
  };
  std::set<std::string> expected = spec_section_5;
  expected.insert({"http_protocol_error", "local_resource"});
  // Kubernetes mode: what the API did not give the probe (RBAC, credentials).
  expected.insert("kubernetes_api_error");
  // A chain Go's crypto/x509 refuses for a rule of its certificates, not
  // for its authority, validity or name.
  expected.insert("tls_invalid_certificate");
  // The grpc probe's call: HTTP/2 that is not gRPC, a call that broke or
  // stalled, a health service that is not SERVING.
  expected.insert({"grpc_not_grpc", "grpc_protocol_error", "grpc_timeout", "grpc_not_serving"});
  // A negative test (`expect:`) whose path opened.
  expected.insert("unexpectedly_reachable");
  // Admission: a dry-run create the API server sends through istiod's
  // webhooks (no sidecar, a call out of time, validation that lets an
  // invalid resource in).
  expected.insert({"injection_skipped", "webhook_timeout", "webhook_validation_not_enforced"});
  EXPECT_EQ(all_codes(), expected);
}

TEST(DiagnosisSet, HoldsExactlyTheCodesInserted) {
  DiagnosisSet set;
  EXPECT_TRUE(set.empty());
  set.insert(Diagnosis::tcp_timeout);
  set.insert(Diagnosis::unexpectedly_reachable);
  EXPECT_FALSE(set.empty());
  EXPECT_TRUE(set.contains(Diagnosis::tcp_timeout));
  EXPECT_TRUE(set.contains(Diagnosis::unexpectedly_reachable));
  EXPECT_FALSE(set.contains(Diagnosis::ok));
  EXPECT_FALSE(set.contains(Diagnosis::tcp_refused));
}

TEST(DiagnosisSet, CodesTextListsThemInCatalogueOrder) {
  const DiagnosisSet set{Diagnosis::tcp_unreachable, Diagnosis::tcp_timeout};
  EXPECT_EQ(codes_text(set), "tcp_timeout, tcp_unreachable");
  EXPECT_EQ(codes_text(kBlocked, " or "), "tcp_timeout or tcp_refused or tcp_unreachable");
}

}  // namespace
}  // namespace meshprobe
