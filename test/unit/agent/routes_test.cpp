// The agent's route table: the Prometheus ecosystem's lifecycle paths
// beside meshprobe's own.
#include "agent/routes.h"

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>

namespace meshprobe {
namespace {

class RoutesTest : public testing::Test {
 protected:
  HttpResponse get(const std::string& path, const std::string& method = "GET") const {
    HttpRequest request;
    request.method = method;
    request.path = path;
    return routes_(request);
  }

  ResultsStore store_;
  AgentIdentity identity_;
  Routes routes_{store_, identity_};
};

TEST_F(RoutesTest, HealthyIsHealthz) {
  EXPECT_EQ(get("/-/healthy").status, 200);
  EXPECT_EQ(get("/-/healthy").body, get("/healthz").body);
}

TEST_F(RoutesTest, ReadyIsReadyzAndWaitsForTheFirstRound) {
  auto target = std::make_shared<Target>();
  target->name = "istiod-webhook";
  target->url = "https://istiod.istio-system.svc:15017/ready";
  store_.set_targets({{target, std::chrono::seconds(10)}});
  EXPECT_EQ(get("/-/ready").status, 503);
  EXPECT_EQ(get("/-/ready").body, get("/readyz").body);
}

TEST_F(RoutesTest, ReloadIsForbiddenUnlessTheLifecycleApiIsOn) {
  const HttpResponse response = get("/-/reload", "POST");
  EXPECT_EQ(response.status, 403);
  EXPECT_EQ(response.body, "Lifecycle API is not enabled.\n");
}

TEST_F(RoutesTest, ReloadTakesOnlyPost) {
  int reloads = 0;
  routes_.enable_reload([&] {
    ++reloads;
    return std::string();
  });
  EXPECT_EQ(get("/-/reload").status, 405);
  EXPECT_EQ(get("/-/reload", "HEAD").status, 405);
  EXPECT_EQ(reloads, 0);
}

TEST_F(RoutesTest, ReloadAnswersOnceTheConfigIsApplied) {
  int reloads = 0;
  routes_.enable_reload([&] {
    ++reloads;
    return std::string();
  });
  const HttpResponse response = get("/-/reload", "POST");
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(reloads, 1);
}

TEST_F(RoutesTest, ARefusedReloadIs500WithTheReason) {
  routes_.enable_reload([] { return std::string("config.yaml:3: targets[0].url: not a URL"); });
  const HttpResponse response = get("/-/reload", "POST");
  EXPECT_EQ(response.status, 500);
  EXPECT_NE(response.body.find("config.yaml:3: targets[0].url: not a URL"), std::string::npos);
}

}  // namespace
}  // namespace meshprobe
