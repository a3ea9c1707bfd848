#include "kube/client/objects.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>

#include "common/base64.h"
#include "test_files.h"

namespace meshprobe::kube {
namespace {

using testing::HasSubstr;

TEST(Base64, DecodesPaddedTextAndSkipsLineBreaks) {
  EXPECT_EQ(base64_decode("aGVs\nbG8="), "hello");
  EXPECT_EQ(base64_decode(""), "");
}

TEST(Base64, RefusesWhatIsNotBase64) {
  EXPECT_FALSE(base64_decode("aGVsbG8"));  // not a multiple of four
  EXPECT_FALSE(base64_decode("aGV*bG8="));
  EXPECT_FALSE(base64_decode("aG=sbG8="));  // data after padding
}

TEST(Objects, ParsesAWebhookConfigurationListWithDecodedCaBundles) {
  auto page = parse_webhook_configuration_list(test::fixture("mutatingwebhookconfigurations.json"),
                                               WebhookKind::mutating);
  ASSERT_TRUE(page) << page.error().message;
  ASSERT_EQ(page->items.size(), 5u);
  const WebhookConfiguration& injector = page->items[0];
  EXPECT_EQ(injector.object(), "MutatingWebhookConfiguration/istio-sidecar-injector");
  ASSERT_EQ(injector.webhooks.size(), 4u);
  const Webhook& hook = injector.webhooks[0];
  EXPECT_EQ(hook.name, "rev.namespace.sidecar-injector.istio.io");
  ASSERT_TRUE(hook.service);
  EXPECT_EQ(hook.service->ns, "istio-system");
  EXPECT_EQ(hook.service->name, "istiod");
  EXPECT_EQ(hook.service->port, 443);
  EXPECT_THAT(hook.ca_bundle_pem, HasSubstr("BEGIN CERTIFICATE"));
  ASSERT_TRUE(hook.namespace_selector);
  EXPECT_EQ(hook.namespace_selector->match_expressions.size(), 2u);
  EXPECT_TRUE(page->continue_token.empty());
}

TEST(Objects, AWebhookCallingAUrlHasNoService) {
  auto page = parse_webhook_configuration_list(test::fixture("mutatingwebhookconfigurations.json"),
                                               WebhookKind::mutating);
  ASSERT_TRUE(page);
  const Webhook& hook = page->items[4].webhooks[0];
  EXPECT_FALSE(hook.service);
  EXPECT_EQ(hook.url, "https://mutator.example.com/mutate");
}

TEST(Objects, ReadsTheContinueTokenOfAPage) {
  auto page = parse_namespace_list(
      R"({"kind":"NamespaceList","apiVersion":"v1","metadata":{"continue":"abc","remainingItemCount":3},"items":[]})");
  ASSERT_TRUE(page);
  EXPECT_EQ(page->continue_token, "abc");
}

TEST(Objects, ReadsNumericAndNamedTargetPorts) {
  auto numeric = parse_service_list(test::fixture("services-istio-system.json"));
  ASSERT_TRUE(numeric) << numeric.error().message;
  EXPECT_EQ(numeric->items[0].ports[2].target_port.number, 15017);
  auto named = parse_service(test::fixture("service-istiod-named-target-port.json"));
  ASSERT_TRUE(named) << named.error().message;
  EXPECT_EQ(named->ports[2].target_port.number, 0);
  EXPECT_EQ(named->ports[2].target_port.name, "webhook");
}

TEST(Objects, ReadsEndpointConditionsWithTheApiDefaults) {
  auto page = parse_endpoint_slice_list(test::fixture("endpointslices-istiod.json"));
  ASSERT_TRUE(page) << page.error().message;
  const auto& endpoints = page->items[0].endpoints;
  ASSERT_EQ(endpoints.size(), 3u);
  EXPECT_TRUE(endpoints[0].ready);
  EXPECT_FALSE(endpoints[1].ready);
  EXPECT_TRUE(endpoints[1].terminating);
  EXPECT_TRUE(endpoints[2].ready);  // unset: to be read as ready
  EXPECT_EQ(endpoints[0].pod, "istiod-5f8d7c9b4-abcde");
  EXPECT_EQ(endpoints[0].node, "gke-pool-1-a");
  EXPECT_EQ(endpoints[0].zone, "us-central1-a");
}

TEST(Objects, RefusesADocumentOfAnotherKind) {
  auto service = parse_service(R"({"kind":"ConfigMap","apiVersion":"v1","metadata":{"name":"x"}})");
  ASSERT_FALSE(service);
  EXPECT_THAT(service.error().message, HasSubstr("expected a Service, got ConfigMap"));
}

TEST(Objects, RefusesAFieldOfTheWrongType) {
  auto page = parse_namespace_list(R"({"kind":"NamespaceList","items":[{"metadata":{"name":7}}]})");
  ASSERT_FALSE(page);
  EXPECT_THAT(page.error().message, HasSubstr("\"name\" is not a string"));
}

TEST(Objects, RefusesTextThatIsNotJson) {
  auto map = parse_config_map("<html>502 Bad Gateway</html>");
  ASSERT_FALSE(map);
  EXPECT_THAT(map.error().message, HasSubstr("not JSON"));
}

TEST(Objects, ParsesAFailedCreateEventWithItsInvolvedObjectAndCount) {
  const auto page = parse_event_list(R"({"kind":"EventList","apiVersion":"v1",
    "metadata":{"resourceVersion":"812"},
    "items":[{"metadata":{"name":"web-7d9.17e0c5","namespace":"shop","uid":"u-1"},
      "involvedObject":{"kind":"ReplicaSet","namespace":"shop","name":"web-7d9","apiVersion":"apps/v1"},
      "reason":"FailedCreate","message":"Error creating: x","type":"Warning","count":5,
      "firstTimestamp":"2026-12-04T10:40:00Z","lastTimestamp":"2026-12-04T10:42:00Z",
      "eventTime":null}]})");
  ASSERT_TRUE(page.has_value()) << page.error().message;
  ASSERT_EQ(page->items.size(), 1u);
  const Event& event = page->items[0];
  EXPECT_EQ(event.uid, "u-1");
  EXPECT_EQ(event.involved_kind, "ReplicaSet");
  EXPECT_EQ(event.involved_ns, "shop");
  EXPECT_EQ(event.involved_name, "web-7d9");
  EXPECT_EQ(event.reason, "FailedCreate");
  EXPECT_EQ(event.count, 5);
  EXPECT_EQ(event.first_timestamp, "2026-12-04T10:40:00Z");
  EXPECT_EQ(event.last_timestamp, "2026-12-04T10:42:00Z");
}

TEST(Objects, AnEventWithOnlyAnEventTimeTakesItForItsTimestamps) {
  const auto page = parse_event_list(R"({"kind":"EventList","items":[{"metadata":{"name":"e"},
    "reason":"FailedCreate","message":"m","eventTime":"2026-12-04T10:42:00.123456Z",
    "firstTimestamp":null,"lastTimestamp":null}]})");
  ASSERT_TRUE(page.has_value()) << page.error().message;
  EXPECT_EQ(page->items[0].last_timestamp, "2026-12-04T10:42:00.123456Z");
  EXPECT_EQ(page->items[0].first_timestamp, "2026-12-04T10:42:00.123456Z");
  EXPECT_EQ(page->items[0].count, 1);  // unset: it happened once
}

TEST(Objects, ParsesAPodListWithContainersInitContainersAndPhase) {
  const auto page = parse_pod_list(test::fixture("pods-default.json"));
  ASSERT_TRUE(page.has_value()) << page.error().message;
  const auto native = std::ranges::find(page->items, "api-1f2-native", &Pod::name);
  ASSERT_NE(native, page->items.end());
  EXPECT_EQ(native->phase, "Running");
  EXPECT_EQ(native->creation_timestamp, "2026-12-04T09:01:00Z");
  ASSERT_EQ(native->init_containers.size(), 2u);
  EXPECT_EQ(native->init_containers[1].name, "istio-proxy");
  EXPECT_EQ(native->init_containers[1].restart_policy, "Always");
}

TEST(Objects, RefusesAPodListThatIsAnotherKind) {
  EXPECT_FALSE(parse_pod_list(R"({"kind":"EventList","items":[]})").has_value());
}

TEST(Objects, ParsesTheApiServersStatus) {
  auto status = parse_status(
      R"({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"services \"istiod\" not found","reason":"NotFound","details":{"name":"istiod","kind":"services"},"code":404})");
  ASSERT_TRUE(status);
  EXPECT_EQ(status->code, 404);
  EXPECT_EQ(status->reason, "NotFound");
  EXPECT_EQ(status->message, "services \"istiod\" not found");
  EXPECT_FALSE(parse_status(R"({"kind":"Service"})"));
}

LabelSelector selector(std::vector<LabelRequirement> expressions, Labels match_labels = {}) {
  return {std::move(match_labels), std::move(expressions)};
}

TEST(LabelSelectors, InNeedsTheLabelWithAListedValue) {
  const auto in = selector({{"istio.io/rev", "In", {"1-22", "canary"}}});
  EXPECT_TRUE(in.matches({{"istio.io/rev", "canary"}}));
  EXPECT_FALSE(in.matches({{"istio.io/rev", "1-21"}}));
  EXPECT_FALSE(in.matches({}));
}

TEST(LabelSelectors, NotInMatchesAnAbsentLabel) {
  const auto not_in = selector({{"sidecar.istio.io/inject", "NotIn", {"false"}}});
  EXPECT_TRUE(not_in.matches({}));
  EXPECT_FALSE(not_in.matches({{"sidecar.istio.io/inject", "false"}}));
}

TEST(LabelSelectors, ExistsAndDoesNotExistLookAtTheKeyOnly) {
  EXPECT_TRUE(selector({{"istio-injection", "Exists", {}}}).matches({{"istio-injection", ""}}));
  EXPECT_FALSE(
      selector({{"istio-injection", "DoesNotExist", {}}}).matches({{"istio-injection", "x"}}));
}

TEST(LabelSelectors, MatchLabelsAndExpressionsAreAnded) {
  const auto both = selector({{"b", "Exists", {}}}, {{"a", "1"}});
  EXPECT_TRUE(both.matches({{"a", "1"}, {"b", "2"}}));
  EXPECT_FALSE(both.matches({{"a", "1"}}));
  EXPECT_FALSE(both.matches({{"a", "2"}, {"b", "2"}}));
}

TEST(LabelSelectors, AnEmptySelectorMatchesEverything) { EXPECT_TRUE(LabelSelector{}.matches({})); }

TEST(LabelSelectors, AnUnknownOperatorMatchesNothing) {
  EXPECT_FALSE(selector({{"a", "Gt", {"1"}}}).matches({{"a", "2"}}));
}

TEST(Objects, ParsesANodeListsProviderId) {
  auto page = parse_node_list(test::fixture("nodes-gke.json"));
  ASSERT_TRUE(page) << page.error().message;
  ASSERT_EQ(page->items.size(), 1u);
  EXPECT_EQ(page->items[0].name, "gke-prod-default-pool-1a2b3c4d-x9z8");
  EXPECT_EQ(page->items[0].provider_id,
            "gce://my-project/us-central1-a/gke-prod-default-pool-1a2b3c4d-x9z8");
  // limit=1 of a larger list: the rest is left to a continue nobody sends.
  EXPECT_FALSE(page->continue_token.empty());
}

TEST(Objects, ANodeWithoutProviderIdHasAnEmptyOne) {
  auto page = parse_node_list(
      R"({"kind":"NodeList","apiVersion":"v1","metadata":{},"items":[{"metadata":{"name":"kind-control-plane"},"spec":{}}]})");
  ASSERT_TRUE(page) << page.error().message;
  ASSERT_EQ(page->items.size(), 1u);
  EXPECT_EQ(page->items[0].provider_id, "");
}

TEST(Objects, RefusesANodeListOfAnotherKind) {
  auto page = parse_node_list(R"({"kind":"NamespaceList","items":[]})");
  ASSERT_FALSE(page);
  EXPECT_THAT(page.error().message, HasSubstr("expected a NodeList"));
}

}  // namespace
}  // namespace meshprobe::kube
