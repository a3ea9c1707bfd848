// The hygiene checks on API responses recorded in test/unit/kube/fixtures: a
// default install, a revision 1-22 with one webhook missing its caBundle, a
// leftover 1-20 injector whose Service is gone, istiod's default validator
// still at failurePolicy Ignore, and namespaces labelled for injection.
#include "kube/hygiene.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <set>

#include "test_files.h"

namespace meshprobe::kube {
namespace {

using testing::ElementsAre;
using testing::HasSubstr;
using testing::IsEmpty;

ClusterView fixture_view() {
  ClusterView view;
  view.mutating = parse_webhook_configuration_list(
                      test::fixture("mutatingwebhookconfigurations.json"), WebhookKind::mutating)
                      ->items;
  view.validating =
      parse_webhook_configuration_list(test::fixture("validatingwebhookconfigurations.json"),
                                       WebhookKind::validating)
          ->items;
  view.namespaces = parse_namespace_list(test::fixture("namespaces.json"))->items;
  const auto services = parse_service_list(test::fixture("services-istio-system.json"));
  for (const Service& service : services->items) view.services.insert(service.name);
  return view;
}

std::vector<Finding> findings_with(const std::vector<Finding>& all, std::string_view code) {
  std::vector<Finding> out;
  for (const Finding& f : all) {
    if (f.code == code) out.push_back(f);
  }
  return out;
}

std::vector<std::string> what(const std::vector<Finding>& findings) {
  std::vector<std::string> out;
  for (const Finding& f : findings) out.push_back(f.object + " " + f.webhook);
  return out;
}

TEST(Hygiene, AWebhookWithoutCaBundleIsWebhookCaBundleMissing) {
  const auto found = findings_with(check_webhooks(fixture_view()), kCaBundleMissing);
  EXPECT_THAT(what(found), ElementsAre("MutatingWebhookConfiguration/istio-sidecar-injector-1-22 "
                                       "rev.object.sidecar-injector.istio.io"));
  EXPECT_THAT(found[0].message, HasSubstr("x509: certificate signed by unknown authority"));
  EXPECT_THAT(found[0].remedy, HasSubstr("restart istiod"));
}

TEST(Hygiene, AWebhookCallingAMissingServiceIsAStaleRevision) {
  const auto found = findings_with(check_webhooks(fixture_view()), kStaleRevision);
  EXPECT_THAT(what(found), ElementsAre("MutatingWebhookConfiguration/istio-sidecar-injector-1-20 "
                                       "rev.namespace.sidecar-injector.istio.io",
                                       "MutatingWebhookConfiguration/istio-sidecar-injector-1-20 "
                                       "rev.object.sidecar-injector.istio.io"));
  EXPECT_THAT(found[0].message, HasSubstr("Service \"istiod-1-20\" not found"));
}

TEST(Hygiene, AStaleWebhookIsNotAlsoReportedForItsCaBundle) {
  ClusterView view = fixture_view();
  view.mutating[2].webhooks[0].ca_bundle_pem.clear();
  const auto all = check_webhooks(view);
  for (const Finding& f : findings_with(all, kCaBundleMissing)) {
    EXPECT_THAT(f.object, testing::Not(HasSubstr("1-20")));
  }
}

TEST(Hygiene, AnIstioValidatorAtIgnoreIsValidationNotEnforced) {
  const auto found = findings_with(check_webhooks(fixture_view()), kValidationNotEnforced);
  EXPECT_THAT(what(found), ElementsAre("ValidatingWebhookConfiguration/istiod-default-validator "
                                       "validation.istio.io"));
  EXPECT_THAT(found[0].message, HasSubstr("silently off"));
}

TEST(Hygiene, OtherValidatorsMayChooseIgnore) {
  // kyverno's validator in the fixture is at Ignore, in its own namespace.
  for (const Finding& f : check_webhooks(fixture_view())) {
    EXPECT_THAT(f.object, testing::Not(HasSubstr("kyverno")));
  }
}

TEST(Hygiene, WebhooksOutsideIstiosNamespaceAreOutOfScope) {
  // cert-manager's webhook has no caBundle in the fixture: not our concern.
  for (const Finding& f : check_webhooks(fixture_view())) {
    EXPECT_THAT(f.object, testing::Not(HasSubstr("cert-manager")));
    EXPECT_THAT(f.object, testing::Not(HasSubstr("external-mutator")));
  }
}

TEST(Hygiene, ANamespaceLabelledForARevisionNobodyServesIsUnmatched) {
  const auto found = findings_with(check_webhooks(fixture_view()), kInjectionLabelUnmatched);
  EXPECT_THAT(what(found), ElementsAre("Namespace/legacy "));
  EXPECT_THAT(found[0].message, HasSubstr("istio.io/rev=1-19"));
  EXPECT_THAT(found[0].message, HasSubstr("without sidecars"));
}

TEST(Hygiene, IstioInjectionEnabledNeedsTheDefaultInjector) {
  ClusterView view = fixture_view();
  view.mutating.erase(view.mutating.begin());  // only revisioned injectors left
  const auto found = findings_with(check_webhooks(view), kInjectionLabelUnmatched);
  EXPECT_THAT(what(found), testing::Contains("Namespace/default "));
  EXPECT_THAT(what(found), testing::Contains("Namespace/payments "));
}

TEST(Hygiene, IstioInjectionDisabledIsNoRequest) {
  // optout is labelled istio-injection=disabled and istio.io/rev=1-19.
  for (const Finding& f : check_webhooks(fixture_view())) EXPECT_NE(f.object, "Namespace/optout");
}

TEST(Hygiene, ACleanInstallHasNoFindings) {
  ClusterView view = fixture_view();
  view.mutating.erase(view.mutating.begin() + 1, view.mutating.begin() + 3);  // 1-22, 1-20
  view.validating.erase(view.validating.begin() + 1);                         // the Ignore one
  view.namespaces.erase(view.namespaces.begin() + 3, view.namespaces.begin() + 5);  // apps, legacy
  EXPECT_THAT(check_webhooks(view), IsEmpty());
}

TEST(Hygiene, FindingsComeInCodeOrder) {
  std::vector<std::string> codes;
  for (const Finding& f : check_webhooks(fixture_view())) codes.push_back(f.code);
  EXPECT_THAT(codes, ElementsAre(std::string(kCaBundleMissing), std::string(kStaleRevision),
                                 std::string(kStaleRevision), std::string(kInjectionLabelUnmatched),
                                 std::string(kValidationNotEnforced)));
}

TEST(CaChecks, OneCheckPerServicePortAndBundleWithEveryWebhookSharingIt) {
  const std::vector<CaCheck> checks = ca_checks(fixture_view());
  ASSERT_EQ(checks.size(), 3u);
  EXPECT_EQ(checks[0].service, (ServiceName{"istiod", "istio-system"}));
  EXPECT_EQ(checks[0].port, 443);
  // The default injector's four webhooks and the validator with the same bundle.
  EXPECT_EQ(checks[0].users.size(), 5u);
  EXPECT_EQ(checks[1].service.name, "istiod-1-22");
  EXPECT_EQ(checks[1].users.size(), 1u);  // the other 1-22 webhook has no caBundle
  EXPECT_EQ(
      checks[2].users,
      (std::vector<std::pair<std::string, std::string>>{
          {"ValidatingWebhookConfiguration/istiod-default-validator", "validation.istio.io"}}));
}

TEST(CaChecks, StaleWebhooksAreNotChecked) {
  for (const CaCheck& check : ca_checks(fixture_view()))
    EXPECT_NE(check.service.name, "istiod-1-20");
}

TEST(CaChecks, OnlyAnUnknownAuthorityShowsAMismatch) {
  EXPECT_TRUE(shows_ca_mismatch(Diagnosis::tls_unknown_authority));
  EXPECT_FALSE(shows_ca_mismatch(Diagnosis::tcp_timeout));
  EXPECT_FALSE(shows_ca_mismatch(Diagnosis::tls_name_mismatch));
  EXPECT_FALSE(shows_ca_mismatch(Diagnosis::ok));
}

TEST(CaChecks, AMismatchIsReportedForEveryWebhookSharingTheBundle) {
  const CaCheck check = ca_checks(fixture_view())[0];
  const auto found =
      ca_mismatch_findings(check, "10.8.0.12: x509: certificate signed by unknown authority");
  ASSERT_EQ(found.size(), 5u);
  for (const Finding& f : found) {
    EXPECT_EQ(f.code, kCaMismatch);
    EXPECT_THAT(f.message, HasSubstr("istiod.istio-system.svc:443"));
    EXPECT_THAT(f.message, HasSubstr("10.8.0.12"));
    EXPECT_EQ(f.remedy, hygiene_remedy(kCaMismatch));
  }
}

// ---- The mesh config's discovery address ----------------------------------

// What read_mesh_discovery gives for ConfigMap istio-system/istio whose
// mesh sets `address`, the Service it names existing or not.
MeshDiscovery configured_discovery(const std::string& address, bool service_exists) {
  MeshDiscovery discovery;
  discovery.address = address;
  discovery.configured = true;
  discovery.source = "ConfigMap istio-system/istio (mesh: defaultConfig.discoveryAddress)";
  discovery.service = parse_service_host(address.substr(0, address.rfind(':')));
  discovery.service_exists = service_exists;
  return discovery;
}

TEST(DiscoveryAddress, AConfiguredAddressNamingAMissingServiceIsDiscoveryAddressStale) {
  ClusterView view;
  view.mesh_discovery = configured_discovery("istiod-asm-1121-3.istio-system.svc:15012", false);
  const auto found = check_webhooks(view);
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].code, kDiscoveryAddressStale);
  EXPECT_EQ(found[0].object, "Service/istio-system/istiod-asm-1121-3");
  EXPECT_THAT(found[0].message, HasSubstr("istiod-asm-1121-3.istio-system.svc:15012"));
  EXPECT_THAT(found[0].message, HasSubstr("ConfigMap istio-system/istio"));
  EXPECT_THAT(found[0].remedy, HasSubstr("discoveryAddress"));
}

TEST(DiscoveryAddress, AConfiguredAddressWhoseServiceExistsIsNoFinding) {
  ClusterView view;
  view.mesh_discovery = configured_discovery("istiod.istio-system.svc:15012", true);
  EXPECT_THAT(check_webhooks(view), IsEmpty());
}

TEST(DiscoveryAddress, IstiosDefaultAddressIsLeftToTheWebhookChecksAndTheXdsTarget) {
  ClusterView view;
  view.mesh_discovery = configured_discovery("istiod.istio-system.svc:15012", false);
  view.mesh_discovery->configured = false;
  EXPECT_THAT(check_webhooks(view), IsEmpty());
}

TEST(DiscoveryAddress, AnAddressThatIsNoServiceHostIsNoFinding) {
  ClusterView view;
  view.mesh_discovery = configured_discovery("10.0.0.7:15012", false);
  EXPECT_FALSE(view.mesh_discovery->service.has_value());
  EXPECT_THAT(check_webhooks(view), IsEmpty());
}

TEST(DiscoveryAddress, APodsOwnAddressNamingAMissingServiceIsDiscoveryAddressStale) {
  ClusterView view;
  view.mesh_discovery = configured_discovery("istiod.istio-system.svc:15012", true);
  MeshDiscovery pods = configured_discovery("istiod-canary.istio-system.svc:15012", false);
  pods.source = "annotation proxy.istio.io/config of 2 pods (first: shop/cart-1)";
  view.pod_discoveries.push_back(pods);
  const auto found = check_webhooks(view);
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].code, kDiscoveryAddressStale);
  EXPECT_EQ(found[0].object, "Service/istio-system/istiod-canary");
  EXPECT_THAT(found[0].message, HasSubstr("annotation proxy.istio.io/config of 2 pods"));
}

TEST(DiscoveryAddress, TheMeshAndThePodsNamingTheSameMissingServiceIsOneFinding) {
  ClusterView view;
  view.mesh_discovery = configured_discovery("istiod-old.istio-system.svc:15012", false);
  view.pod_discoveries.push_back(configured_discovery("istiod-old.istio-system.svc:15012", false));
  EXPECT_EQ(check_webhooks(view).size(), 1u);
}

TEST(DiscoveryAddress, AnUnreadMeshConfigIsANoteNamingTheConfigMapRbac) {
  ClusterView view;
  view.unread.emplace(ViewRead::mesh_config,
                      "reading ConfigMap istio-system/istio: forbidden (403): said so");
  EXPECT_FALSE(check_runs(view, kDiscoveryAddressStale));
  const auto notes = incomplete_check_notes(view);
  ASSERT_EQ(notes.size(), 1u);
  EXPECT_EQ(notes[0].check, kDiscoveryAddressStale);
  EXPECT_THAT(notes[0].message, HasSubstr("could not run: reading the mesh config failed: reading "
                                          "ConfigMap istio-system/istio: forbidden"));
  EXPECT_THAT(notes[0].rbac,
              testing::Contains("verb \"get\" on \"configmaps\" in namespace \"istio-system\""));
}

TEST(Hygiene, EveryCodeHasARemedy) {
  for (std::string_view code : kHygieneCodes) EXPECT_FALSE(hygiene_remedy(code).empty()) << code;
}

// ---- Each check on what it can read -----------------------------------------

ClusterView view_without(ViewRead read, std::string why) {
  ClusterView view = fixture_view();
  switch (read) {
    case ViewRead::mutating: view.mutating.clear(); break;
    case ViewRead::validating: view.validating.clear(); break;
    case ViewRead::namespaces: view.namespaces.clear(); break;
    case ViewRead::services: view.services.clear(); break;
    case ViewRead::pods: view.sidecarless_pods.clear(); break;
    case ViewRead::mesh_config: view.mesh_discovery.reset(); break;
  }
  view.unread.emplace(read, std::move(why));
  return view;
}

std::set<std::string> codes(const std::vector<Finding>& findings) {
  std::set<std::string> out;
  for (const Finding& f : findings) out.insert(f.code);
  return out;
}

TEST(HygieneChecks, ForbiddenNamespacesCostOnlyTheInjectionLabelCheck) {
  const ClusterView view = view_without(ViewRead::namespaces, "forbidden (403): ...");
  EXPECT_EQ(codes(check_webhooks(view)),
            (std::set<std::string>{std::string(kCaBundleMissing), std::string(kStaleRevision),
                                   std::string(kValidationNotEnforced)}));
  EXPECT_FALSE(check_runs(view, kInjectionLabelUnmatched));
  EXPECT_TRUE(check_complete(view, kCaBundleMissing));
  EXPECT_FALSE(ca_checks(view).empty());
}

TEST(HygieneChecks, ANoteNamesTheCheckTheFailedReadAndTheRbacTheCheckNeeds) {
  const ClusterView view = view_without(ViewRead::namespaces, "forbidden (403): said so");
  const auto notes = incomplete_check_notes(view);
  // The sidecar check reads namespaces too.
  ASSERT_EQ(notes.size(), 2u);
  EXPECT_EQ(notes[0].check, kInjectionLabelUnmatched);
  EXPECT_EQ(notes[1].check, kSidecarMissing);
  EXPECT_THAT(notes[0].message, HasSubstr("could not run: listing Namespaces failed: forbidden "
                                          "(403): said so"));
  EXPECT_THAT(notes[0].rbac, testing::Contains("verb \"list\" on \"namespaces\" (cluster-wide)"));
  EXPECT_THAT(notes[0].rbac, testing::Contains("verb \"list\" on \"mutatingwebhookconfigurations\""
                                               " in API group \"admissionregistration.k8s.io\" "
                                               "(cluster-wide)"));
}

TEST(HygieneChecks, UnreadServicesStopTheStaleRevisionCheckButNotTheCaBundleCheck) {
  const ClusterView view = view_without(ViewRead::services, "forbidden (403)");
  const auto found = check_webhooks(view);
  EXPECT_EQ(codes(found).count(std::string(kStaleRevision)), 0u);
  EXPECT_EQ(codes(found).count(std::string(kCaBundleMissing)), 1u);
  EXPECT_FALSE(check_runs(view, kCaMismatch));
  EXPECT_TRUE(ca_checks(view).empty());
}

TEST(HygieneChecks, AKindTheServerDoesNotServeLeavesTheCaBundleCheckRunningOnTheOther) {
  const ClusterView view = view_without(ViewRead::validating,
                                        "not found (404): the server could not find the "
                                        "requested resource");
  EXPECT_TRUE(check_runs(view, kCaBundleMissing));
  EXPECT_FALSE(check_complete(view, kCaBundleMissing));
  EXPECT_FALSE(check_runs(view, kValidationNotEnforced));
  EXPECT_EQ(codes(check_webhooks(view)).count(std::string(kCaBundleMissing)), 1u);
  const auto notes = incomplete_check_notes(view);
  ASSERT_FALSE(notes.empty());
  EXPECT_THAT(notes[0].message, HasSubstr("ran on part of what it reads"));
}

TEST(HygieneChecks, NoReadAtAllRunsNoCheck) {
  ClusterView view;
  for (ViewRead read : {ViewRead::mutating, ViewRead::validating, ViewRead::namespaces,
                        ViewRead::services, ViewRead::mesh_config}) {
    view.unread.emplace(read, "unauthorized (401)");
  }
  for (const HygieneCheck& check : hygiene_checks()) EXPECT_FALSE(check_runs(view, check.name));
  EXPECT_EQ(incomplete_check_notes(view).size(), kHygieneCodes.size());
}

// ---- sidecar_missing ---------------------------------------------------------

std::vector<Pod> pods_of(std::string_view fixture) {
  auto page = parse_pod_list(test::fixture(std::string(fixture)));
  EXPECT_TRUE(page.has_value());
  return page ? page->items : std::vector<Pod>();
}

const Pod& named(const std::vector<Pod>& pods, std::string_view name) {
  const auto found = std::ranges::find(pods, name, &Pod::name);
  EXPECT_NE(found, pods.end()) << name;
  return *found;
}

// The view as read_cluster_view keeps it: only the pods missing a sidecar.
ClusterView view_with_pods() {
  ClusterView view = fixture_view();
  for (std::string_view fixture : {"pods-default.json", "pods-inject-true.json"}) {
    for (Pod& pod : pods_of(fixture)) {
      if (missing_sidecar(pod)) view.sidecarless_pods.push_back(std::move(pod));
    }
  }
  return view;
}

TEST(MissingSidecar, ARunningPodWithoutIstioProxyMissesItsSidecar) {
  EXPECT_TRUE(missing_sidecar(named(pods_of("pods-default.json"), "web-7d9-a")));
}

TEST(MissingSidecar, AnIstioInitContainerAloneIsNoSidecar) {
  EXPECT_TRUE(missing_sidecar(named(pods_of("pods-default.json"), "cart-5c4-x")));
}

TEST(MissingSidecar, AnIstioProxyContainerIsTheSidecar) {
  EXPECT_FALSE(missing_sidecar(named(pods_of("pods-default.json"), "api-1f2-ok")));
}

TEST(MissingSidecar, ANativeSidecarInitContainerWithRestartPolicyAlwaysIsTheSidecar) {
  EXPECT_FALSE(missing_sidecar(named(pods_of("pods-default.json"), "api-1f2-native")));
}

TEST(MissingSidecar, AnIstioProxyInitContainerWithoutRestartPolicyAlwaysIsNoSidecar) {
  Pod pod = named(pods_of("pods-default.json"), "api-1f2-native");
  pod.init_containers.back().restart_policy.clear();
  EXPECT_TRUE(missing_sidecar(pod));
}

TEST(MissingSidecar, TheOptOutLabelIsRespected) {
  EXPECT_FALSE(missing_sidecar(named(pods_of("pods-default.json"), "batch-opt-label")));
}

TEST(MissingSidecar, TheOptOutAnnotationIsRespected) {
  EXPECT_FALSE(missing_sidecar(named(pods_of("pods-default.json"), "batch-opt-annotation")));
}

TEST(MissingSidecar, AHostNetworkPodIsNeverInjected) {
  EXPECT_FALSE(missing_sidecar(named(pods_of("pods-default.json"), "node-agent-h")));
}

TEST(MissingSidecar, OnlyRunningPodsCount) {
  EXPECT_FALSE(missing_sidecar(named(pods_of("pods-default.json"), "web-7d9-pending")));
  EXPECT_FALSE(missing_sidecar(named(pods_of("pods-default.json"), "job-done")));
}

TEST(PodsToRead, OnlyNamespacesLabelledForInjectionThatAnInjectorSelects) {
  // legacy asks for a revision nobody serves; optout is disabled; kube-system
  // and istio-system ask for nothing.
  EXPECT_THAT(pods_to_read(fixture_view()), ElementsAre("default", "apps", "payments"));
}

TEST(SidecarMissing, OneFindingPerNamespaceCountingItsPods) {
  const auto found = findings_with(check_webhooks(view_with_pods()), kSidecarMissing);
  EXPECT_THAT(what(found), ElementsAre("Namespace/default ", "Namespace/kube-system "));
  EXPECT_THAT(found[0].message, HasSubstr("4 running pods have no istio-proxy sidecar"));
  EXPECT_THAT(found[1].message, HasSubstr("1 running pod has no istio-proxy sidecar"));
}

TEST(SidecarMissing, TheEarliestCreatedAreNamedFirstWithTheirCreationTimes) {
  const auto found = findings_with(check_webhooks(view_with_pods()), kSidecarMissing);
  ASSERT_FALSE(found.empty());
  EXPECT_THAT(found[0].message,
              HasSubstr("web-7d9-a (created 2026-12-04T10:42:03Z), web-7d9-b (created "
                        "2026-12-04T10:45:10Z), cart-5c4-x (created 2026-12-04T10:50:00Z) and 1 "
                        "more"));
  EXPECT_THAT(found[0].message, HasSubstr("the earliest was created 2026-12-04T10:42:03Z"));
  EXPECT_THAT(found[0].remedy, HasSubstr("sidecar.istio.io/inject=false"));
}

TEST(SidecarMissing, APodAskingForInjectionInADisabledNamespaceIsNotAFinding) {
  for (const Finding& f : check_webhooks(view_with_pods())) EXPECT_NE(f.object, "Namespace/optout");
}

TEST(SidecarMissing, UnreadPodsStopTheCheckAndSayWhichRbacItNeeds) {
  const ClusterView view = view_without(ViewRead::pods, "forbidden (403): pods");
  EXPECT_FALSE(check_runs(view, kSidecarMissing));
  const auto notes = incomplete_check_notes(view);
  ASSERT_EQ(notes.size(), 1u);
  EXPECT_EQ(notes[0].check, kSidecarMissing);
  EXPECT_THAT(notes[0].rbac, testing::Contains("verb \"list\" on \"pods\" (cluster-wide)"));
}

}  // namespace
}  // namespace meshprobe::kube
