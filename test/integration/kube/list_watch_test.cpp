// List once, then watch, against the emulated API server's real chunked
// watch streams: changes arrive through the stream, a stream that ends or
// drops resumes from its resourceVersion, a 410 lists again, a silent
// stream is re-opened, RBAC failures keep their words, stop is prompt.
#include "kube/client/list_watch.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "fake_apiserver_process.h"
#include "kube/client/reads.h"

namespace meshprobe::kube {
namespace {

using namespace std::chrono_literals;
using testing::HasSubstr;

constexpr const char* kToken = "watch-test-token";
constexpr const char* kNamespaces = "/api/v1/namespaces";

// The cluster: namespaces NAMES (comma-separated JSON objects' names) and
// `extra` state keys (",\"drop_watches\":true").
std::string state(const std::vector<std::string>& names, const std::string& extra = "") {
  std::string namespaces;
  for (const std::string& name : names) {
    if (!namespaces.empty()) namespaces += ",";
    namespaces += R"({"metadata":{"name":")" + name + R"(","labels":{"team":"a"}}})";
  }
  return R"({"token":")" + std::string(kToken) + R"(","bookmark_interval":0.2,"namespaces":[)" +
         namespaces + "]" + extra + "}";
}

bool eventually(const std::function<bool()>& condition, std::chrono::milliseconds within = 5s) {
  const auto until = std::chrono::steady_clock::now() + within;
  while (std::chrono::steady_clock::now() < until) {
    if (condition()) return true;
    std::this_thread::sleep_for(20ms);
  }
  return condition();
}

class ListWatchTest : public testing::Test {
 protected:
  void SetUp() override {
    if (!test::FakeApiServer::available()) GTEST_SKIP() << "python3 is not installed";
    server_ = std::make_unique<test::FakeApiServer>(state({"a", "b"}));
    ApiClientOptions options;
    options.request_timeout = 5s;
    client_ = std::make_unique<ApiClient>(test::credentials_for(*server_, kToken), options);
  }

  WatchOptions fast() const {
    WatchOptions options;
    options.initial_backoff = 50ms;
    options.max_backoff = 200ms;
    options.sync_timeout = 5s;
    return options;
  }

  std::unique_ptr<WatchCache> cache(WatchOptions options) {
    return std::make_unique<WatchCache>(*client_, options, [this] { ++changes_; });
  }

  // The namespaces' names as the cache answers them.
  static std::vector<std::string> names(WatchCache& cache) {
    std::vector<std::string> out;
    CachedList list = cache.list(kNamespaces);
    if (!list.ok) return {"error: " + list.failure.error};
    auto parsed = parse_namespace_list(list.body);
    if (!parsed) return {"error: " + parsed.error().message};
    for (const Namespace& ns : parsed->items) out.push_back(ns.name);
    return out;
  }

  // Requests to the namespaces path: plain lists, or watches.
  std::size_t requests(bool watches) const {
    std::size_t count = 0;
    for (const std::string& line : server_->requests()) {
      if (line.find("\"path\": \"/api/v1/namespaces\"") == std::string::npos) continue;
      const bool watch = line.find("\"watch\": \"true\"") != std::string::npos;
      count += watch == watches;
    }
    return count;
  }

  std::unique_ptr<test::FakeApiServer> server_;
  std::unique_ptr<ApiClient> client_;
  std::atomic<int> changes_{0};
};

TEST_F(ListWatchTest, ListsOnceThenAnswersFromMemory) {
  auto watches = cache(fast());
  EXPECT_EQ(names(*watches), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(names(*watches), (std::vector<std::string>{"a", "b"}));
  EXPECT_TRUE(eventually([&] { return requests(true) == 1; }));
  EXPECT_EQ(requests(false), 1u);
}

TEST_F(ListWatchTest, AnAddedObjectArrivesThroughTheWatchWithinASecond) {
  auto watches = cache(fast());
  ASSERT_EQ(names(*watches).size(), 2u);
  ASSERT_TRUE(eventually([&] { return requests(true) == 1; }));
  server_->set_state(state({"a", "b", "c"}));
  EXPECT_TRUE(eventually(
      [&] {
        return names(*watches) == std::vector<std::string>{"a", "b", "c"};
      },
      1500ms));
  EXPECT_GE(changes_.load(), 1);
  EXPECT_EQ(requests(false), 1u);
}

TEST_F(ListWatchTest, ADeletedObjectLeavesTheList) {
  auto watches = cache(fast());
  ASSERT_EQ(names(*watches).size(), 2u);
  ASSERT_TRUE(eventually([&] { return requests(true) == 1; }));
  server_->set_state(state({"b"}));
  EXPECT_TRUE(eventually([&] { return names(*watches) == std::vector<std::string>{"b"}; }));
}

TEST_F(ListWatchTest, ADroppedStreamResumesFromItsVersionWithoutListingAgain) {
  auto watches = cache(fast());
  ASSERT_EQ(names(*watches).size(), 2u);
  ASSERT_TRUE(eventually([&] { return requests(true) == 1; }));
  server_->set_state(state({"a", "b"}, R"(,"silent_watches":true)"));
  server_->set_state(state({"a", "b", "c"}, R"(,"silent_watches":true,"drop_watches":true)"));
  ASSERT_TRUE(eventually([&] { return requests(true) >= 2; }));
  server_->set_state(state({"a", "b", "c"}));
  EXPECT_TRUE(eventually([&] {
    return names(*watches) == std::vector<std::string>{"a", "b", "c"};
  }));
  EXPECT_EQ(requests(false), 1u);
}

TEST_F(ListWatchTest, AVersionTooOldToWatchFromListsAgain) {
  auto watches = cache(fast());
  ASSERT_EQ(names(*watches).size(), 2u);
  ASSERT_TRUE(eventually([&] { return requests(true) == 1; }));
  // Silent, the stream misses the change; then the history before it is
  // compacted and the stream drops: the re-watch from the old version is
  // answered 410 Expired, and only a new list finds "c".
  server_->set_state(state({"a", "b"}, R"(,"silent_watches":true)"));
  server_->set_state(state({"a", "b", "c"}, R"(,"silent_watches":true,"compacted_rv":1001)"));
  server_->set_state(
      state({"a", "b", "c"}, R"(,"silent_watches":true,"compacted_rv":1001,"drop_watches":true)"));
  ASSERT_TRUE(eventually([&] { return requests(false) >= 2; }));
  server_->set_state(state({"a", "b", "c"}, R"(,"compacted_rv":1001)"));
  EXPECT_TRUE(eventually([&] {
    return names(*watches) == std::vector<std::string>{"a", "b", "c"};
  }));
}

TEST_F(ListWatchTest, BookmarksAdvanceTheVersionTheNextWatchStartsFrom) {
  auto watches = cache(fast());
  ASSERT_EQ(names(*watches).size(), 2u);
  // Another kind changes: the global version moves on, and the namespaces'
  // stream hears of it only by its bookmarks.
  server_->set_state(
      state({"a", "b"}, R"(,"services":[{"metadata":{"name":"s","namespace":"a"}}])"));
  std::this_thread::sleep_for(600ms);  // bookmarks every 0.2 s
  server_->set_state(
      state({"a", "b"},
            R"(,"services":[{"metadata":{"name":"s","namespace":"a"}}],"drop_watches":true)"));
  ASSERT_TRUE(eventually([&] { return requests(true) >= 2; }));
  bool resumed_later = false;
  for (const std::string& line : server_->requests()) {
    if (line.find("\"watch\": \"true\"") != std::string::npos &&
        line.find("\"resourceVersion\": \"1001\"") != std::string::npos) {
      resumed_later = true;
    }
  }
  EXPECT_TRUE(resumed_later);
  EXPECT_EQ(requests(false), 1u);
}

TEST_F(ListWatchTest, ASilentStreamIsReopenedAfterTheSilenceTimeout) {
  WatchOptions options = fast();
  options.silence_timeout = 1500ms;
  auto watches = cache(options);
  ASSERT_EQ(names(*watches).size(), 2u);
  server_->set_state(state({"a", "b"}, R"(,"silent_watches":true)"));
  EXPECT_TRUE(eventually([&] { return requests(true) >= 2; }, 6s));
  server_->set_state(state({"a", "b", "c"}));
  EXPECT_TRUE(eventually([&] {
    return names(*watches) == std::vector<std::string>{"a", "b", "c"};
  }));
}

TEST_F(ListWatchTest, AForbiddenListKeepsTheRbacMessage) {
  server_->set_state(state({"a"}, R"(,"forbidden":[{"verb":"list","resource":"namespaces"}])"));
  auto watches = cache(fast());
  KubeApi api(*client_);
  api.serve_lists_from(watches.get());
  auto listed = api.list_namespaces();
  ASSERT_FALSE(listed);
  EXPECT_THAT(listed.error().message,
              HasSubstr("forbidden (403): meshprobe needs RBAC verb \"list\" on \"namespaces\""));
}

TEST_F(ListWatchTest, ARevokedListIsReportedNotHiddenBehindWhatWasKnown) {
  auto watches = cache(fast());
  ASSERT_EQ(names(*watches).size(), 2u);
  server_->set_state(state(
      {"a", "b"}, R"(,"forbidden":[{"verb":"list","resource":"namespaces"}],"drop_watches":true)"));
  EXPECT_TRUE(eventually([&] { return !watches->list(kNamespaces).ok; }));
  EXPECT_EQ(watches->list(kNamespaces).failure.status, 403);
}

TEST_F(ListWatchTest, OneObjectByNameIsAWatchedListWithAFieldSelector) {
  auto watches = cache(fast());
  KubeApi api(*client_);
  api.serve_lists_from(watches.get());
  auto found = api.find_namespace("b");
  ASSERT_TRUE(found) << found.error().message;
  ASSERT_TRUE(found->has_value());
  EXPECT_EQ((*found)->name, "b");
  EXPECT_EQ(watches->paths(),
            (std::set<std::string>{"/api/v1/namespaces?fieldSelector=metadata.name%3Db"}));
}

TEST_F(ListWatchTest, ASweepStopsTheWatchesNoReadAskedFor) {
  auto watches = cache(fast());
  ASSERT_EQ(names(*watches).size(), 2u);
  watches->sweep();  // asked for since the start: kept
  EXPECT_EQ(watches->paths().size(), 1u);
  watches->sweep();  // not asked for since: stopped
  EXPECT_TRUE(watches->paths().empty());
}

TEST_F(ListWatchTest, StopEndsAnOpenWatchPromptly) {
  auto watches = cache(fast());
  ASSERT_EQ(names(*watches).size(), 2u);
  ASSERT_TRUE(eventually([&] { return requests(true) == 1; }));
  const auto started = std::chrono::steady_clock::now();
  watches->stop();
  EXPECT_LT(std::chrono::steady_clock::now() - started, 2500ms);
  EXPECT_FALSE(watches->list(kNamespaces).ok);
}

}  // namespace
}  // namespace meshprobe::kube
