// The webhook calls the API server failed for real, read from FailedCreate
// events: which events count, what they are classified as, and how the
// counters grow across lists of the same events.
#include "kube/observed_failures.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "kube/client/exec_plugin.h"

namespace meshprobe::kube {
namespace {

using testing::ElementsAre;
using testing::HasSubstr;
using testing::IsEmpty;

constexpr std::string_view kInjector = "namespace.sidecar-injector.istio.io";

std::string call_failure(std::string_view webhook, std::string_view error) {
  return "Error creating: Internal error occurred: failed calling webhook \"" +
         std::string(webhook) +
         "\": failed to call webhook: Post "
         "\"https://istiod.istio-system.svc:443/inject?timeout=10s\": " +
         std::string(error);
}

std::string timeout_failure() { return call_failure(kInjector, "context deadline exceeded"); }
std::string refused_failure() {
  return call_failure(kInjector, "dial tcp 10.8.0.12:15017: connect: connection refused");
}

Event failed_create(std::string uid, std::string replica_set, std::string message,
                    std::int64_t count = 1, std::string last = "2026-12-04T10:42:00Z") {
  Event event;
  event.ns = "shop";
  event.name = replica_set + ".17e0";
  event.uid = std::move(uid);
  event.involved_kind = "ReplicaSet";
  event.involved_ns = "shop";
  event.involved_name = std::move(replica_set);
  event.reason = "FailedCreate";
  event.type = "Warning";
  event.message = std::move(message);
  event.count = count;
  event.first_timestamp = last;
  event.last_timestamp = std::move(last);
  return event;
}

std::uint64_t total(const ObservedFailures& failures, std::string_view webhook,
                    Diagnosis diagnosis) {
  for (const ObservedFailureCount& count : failures.totals) {
    if (count.webhook == webhook && count.diagnosis == diagnosis) return count.failures;
  }
  return 0;
}

// --- which events are webhook call failures -------------------------------

TEST(ObservedFailure, AFailedCreateOfAWebhookCallIsClassifiedWithItsObjectAndWords) {
  const auto failure = observed_failure(failed_create("u1", "cart-7d9", refused_failure()));
  ASSERT_TRUE(failure.has_value());
  EXPECT_EQ(failure->object, "ReplicaSet shop/cart-7d9");
  EXPECT_EQ(failure->webhook, kInjector);
  EXPECT_EQ(failure->diagnosis, Diagnosis::tcp_refused);
  EXPECT_EQ(failure->time, "2026-12-04T10:42:00Z");
  EXPECT_EQ(failure->message, refused_failure());
  EXPECT_EQ(failure->at, parse_rfc3339("2026-12-04T10:42:00Z"));
}

TEST(ObservedFailure, ADeadlineExceededCallIsAWebhookTimeout) {
  const auto failure = observed_failure(failed_create("u1", "cart-7d9", timeout_failure()));
  ASSERT_TRUE(failure.has_value());
  EXPECT_EQ(failure->diagnosis, Diagnosis::webhook_timeout);
}

TEST(ObservedFailure, AFailedCreateForAnotherReasonIsNotAWebhookFailure) {
  const Event quota = failed_create(
      "u1", "cart-7d9",
      "Error creating: pods \"cart-7d9-x\" is forbidden: exceeded quota: compute-resources");
  EXPECT_FALSE(observed_failure(quota).has_value());
}

TEST(ObservedFailure, AnEventWithAnotherReasonIsNotAWebhookFailure) {
  Event event = failed_create("u1", "cart-7d9", refused_failure());
  event.reason = "FailedScheduling";
  EXPECT_FALSE(observed_failure(event).has_value());
}

// --- counting ---------------------------------------------------------------

TEST(ObservedFailureLog, AFirstListCountsEachEventsCount) {
  ObservedFailureLog log;
  const std::vector<Event> events = {failed_create("u1", "cart-7d9", timeout_failure(), 3),
                                     failed_create("u2", "web-5c4", timeout_failure(), 2)};
  log.record(events);
  EXPECT_EQ(total(log.failures(), kInjector, Diagnosis::webhook_timeout), 5u);
  EXPECT_TRUE(log.failures().read);
}

TEST(ObservedFailureLog, ACountThatGrewAddsOnlyTheGrowth) {
  ObservedFailureLog log;
  const std::vector<Event> first = {failed_create("u1", "cart-7d9", timeout_failure(), 3)};
  const std::vector<Event> second = {failed_create("u1", "cart-7d9", timeout_failure(), 5)};
  log.record(first);
  log.record(second);
  EXPECT_EQ(total(log.failures(), kInjector, Diagnosis::webhook_timeout), 5u);
}

TEST(ObservedFailureLog, ListingTheSameEventsAgainCountsNothingTwice) {
  ObservedFailureLog log;
  const std::vector<Event> events = {failed_create("u1", "cart-7d9", timeout_failure(), 3)};
  log.record(events);
  log.record(events);
  log.record(events);
  EXPECT_EQ(total(log.failures(), kInjector, Diagnosis::webhook_timeout), 3u);
}

TEST(ObservedFailureLog, AnExpiredEventLeavesTheCounterWhereItWas) {
  ObservedFailureLog log;
  const std::vector<Event> events = {failed_create("u1", "cart-7d9", timeout_failure(), 3)};
  log.record(events);
  log.record({});
  EXPECT_EQ(total(log.failures(), kInjector, Diagnosis::webhook_timeout), 3u);
  EXPECT_THAT(log.failures().recent, IsEmpty());
}

TEST(ObservedFailureLog, CountsAreKeptPerWebhookAndDiagnosis) {
  ObservedFailureLog log;
  const std::vector<Event> events = {
      failed_create("u1", "cart-7d9", timeout_failure(), 2),
      failed_create("u2", "web-5c4", refused_failure(), 1),
      failed_create("u3", "api-9f1", call_failure("validation.istio.io", "EOF"), 4)};
  log.record(events);
  EXPECT_EQ(total(log.failures(), kInjector, Diagnosis::webhook_timeout), 2u);
  EXPECT_EQ(total(log.failures(), kInjector, Diagnosis::tcp_refused), 1u);
  EXPECT_EQ(log.failures().totals.size(), 3u);
}

TEST(ObservedFailureLog, OtherFailedCreatesAreNotCounted) {
  ObservedFailureLog log;
  const std::vector<Event> events = {
      failed_create("u1", "cart-7d9", "Error creating: pods is forbidden: exceeded quota")};
  log.record(events);
  EXPECT_THAT(log.failures().totals, IsEmpty());
  EXPECT_THAT(log.failures().listed, IsEmpty());
}

TEST(ObservedFailureLog, TheRecentAreTheNewestFew) {
  ObservedFailureLog log;
  std::vector<Event> events;
  for (int minute = 10; minute < 10 + 7; ++minute) {
    events.push_back(failed_create("u" + std::to_string(minute), "rs-" + std::to_string(minute),
                                   timeout_failure(), 1,
                                   "2026-12-04T10:" + std::to_string(minute) + ":00Z"));
  }
  log.record(events);
  ASSERT_EQ(log.failures().recent.size(), kRecentFailures);
  EXPECT_EQ(log.failures().recent.front().object, "ReplicaSet shop/rs-16");
  EXPECT_EQ(log.failures().recent.back().object, "ReplicaSet shop/rs-12");
  EXPECT_EQ(log.failures().listed.size(), 7u);
}

TEST(ObservedFailureLog, AFailedListKeepsTheCountersAndSaysWhy) {
  ObservedFailureLog log;
  const std::vector<Event> events = {failed_create("u1", "cart-7d9", timeout_failure(), 3)};
  log.record(events);
  log.record_error("forbidden (403): meshprobe needs RBAC verb \"list\" on \"events\"");
  EXPECT_EQ(total(log.failures(), kInjector, Diagnosis::webhook_timeout), 3u);
  EXPECT_THAT(log.failures().error, HasSubstr("\"events\""));
}

TEST(ObservedFailureLog, WebhookLabelsAreBoundedByFoldingTheRestIntoOther) {
  ObservedFailureLog log;
  std::vector<Event> events;
  for (std::size_t i = 0; i < kMaxFailureSeries + 3; ++i) {
    const std::string webhook = "hook-" + std::to_string(i) + ".example.com";
    events.push_back(failed_create("u" + std::to_string(i), "rs-" + std::to_string(i),
                                   call_failure(webhook, "EOF")));
  }
  log.record(events);
  EXPECT_EQ(log.failures().totals.size(), kMaxFailureSeries + 1);
  EXPECT_EQ(total(log.failures(), kOtherWebhook, log.failures().totals.front().diagnosis), 3u);
}

// --- what the verdict is told ---------------------------------------------

TEST(FailuresOf, OnlyTheWebhooksFailuresWithinTheWindowNewestFirst) {
  ObservedFailureLog log;
  const std::vector<Event> events = {
      failed_create("u1", "old-1", timeout_failure(), 1, "2026-12-04T08:00:00Z"),
      failed_create("u2", "cart-7d9", timeout_failure(), 1, "2026-12-04T10:40:00Z"),
      failed_create("u3", "web-5c4", timeout_failure(), 1, "2026-12-04T10:42:00Z"),
      failed_create("u4", "api-9f1", call_failure("validation.istio.io", "EOF"), 1,
                    "2026-12-04T10:43:00Z")};
  log.record(events);
  const auto now = *parse_rfc3339("2026-12-04T10:50:00Z");
  const auto failures =
      failures_of(log.failures(), std::string(kInjector), now, std::chrono::hours(1));
  std::vector<std::string> objects;
  for (const ObservedFailure& failure : failures) objects.push_back(failure.object);
  EXPECT_THAT(objects, ElementsAre("ReplicaSet shop/web-5c4", "ReplicaSet shop/cart-7d9"));
}

TEST(ObservedFailuresText, CountsTheObjectsAndNamesTheSharedDiagnosisAndTheLast) {
  ObservedFailureLog log;
  const std::vector<Event> events = {
      failed_create("u1", "cart-7d9", timeout_failure(), 4, "2026-12-04T10:40:00Z"),
      failed_create("u2", "web-5c4", timeout_failure(), 1, "2026-12-04T10:41:00Z"),
      failed_create("u3", "api-9f1", timeout_failure(), 2, "2026-12-04T10:42:00Z")};
  log.record(events);
  const std::string text = observed_failures_text(log.failures().listed);
  EXPECT_THAT(text, HasSubstr("3 ReplicaSets failed to create pods in the last hour, all with "
                              "webhook_timeout"));
  EXPECT_THAT(text, HasSubstr("the last: ReplicaSet shop/api-9f1 at 2026-12-04T10:42:00Z"));
  EXPECT_THAT(text, HasSubstr("context deadline exceeded"));
}

TEST(ObservedFailuresText, MixedDiagnosesAreCountedEach) {
  ObservedFailureLog log;
  const std::vector<Event> events = {failed_create("u1", "cart-7d9", timeout_failure()),
                                     failed_create("u2", "web-5c4", refused_failure())};
  log.record(events);
  EXPECT_THAT(observed_failures_text(log.failures().listed),
              HasSubstr("2 ReplicaSets failed to create pods in the last hour (1 with tcp_refused, "
                        "1 with webhook_timeout)"));
}

TEST(ObservedFailuresText, NoFailuresIsNoText) { EXPECT_EQ(observed_failures_text({}), ""); }

}  // namespace
}  // namespace meshprobe::kube
