// The API client against the emulated API server (fake_apiserver.py) over
// real HTTPS: authentication, RBAC errors, 404s, paging, retries, token
// rotation, a caBundle that changes between two reads, cancellation.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstring>
#include <thread>

#include "fake_apiserver_process.h"
#include "kube/ca_sources.h"
#include "kube/client/reads.h"
#include "kube/control_plane.h"
#include "kube/hygiene.h"
#include "kube/mesh_config.h"
#include "test/support/test_pki.h"

namespace meshprobe::kube {
namespace {

using namespace std::chrono_literals;
using testing::HasSubstr;

constexpr const char* kToken = "api-test-token";
// base64 of two different PEM-looking bundles.
constexpr const char* kBundleA =
    "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCkEKLS0tLS1FTkQgQ0VSVElGSUNBVEUtLS0tLQo=";
constexpr const char* kBundleB =
    "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCkIKLS0tLS1FTkQgQ0VSVElGSUNBVEUtLS0tLQo=";

std::string state(const std::string& extra = "", const char* bundle = kBundleA) {
  std::string namespaces;
  for (int i = 0; i < 5; ++i) {
    if (i > 0) namespaces += ",";
    namespaces += R"({"metadata":{"name":"ns-)" + std::to_string(i) + R"("}})";
  }
  return R"({"token":")" + std::string(kToken) + R"(",
  "mutatingwebhookconfigurations":[{"metadata":{"name":"istio-sidecar-injector"},"webhooks":[
    {"name":"rev.namespace.sidecar-injector.istio.io","clientConfig":{"service":{"namespace":"istio-system","name":"istiod","port":443},"caBundle":")" +
         bundle + R"("}}]}],
  "namespaces":[)" +
         namespaces + R"(],
  "services":[{"metadata":{"name":"istiod","namespace":"istio-system"},"spec":{"ports":[{"name":"https-webhook","port":443,"targetPort":15017}]}}],
  "configmaps":[{"metadata":{"name":"istio-ca-root-cert","namespace":"istio-system"},"data":{"root-cert.pem":"PEM"}}])" +
         extra + "}";
}

class KubeApiTest : public testing::Test {
 protected:
  void SetUp() override {
    if (!test::FakeApiServer::available()) GTEST_SKIP() << "python3 is not installed";
    server_ = std::make_unique<test::FakeApiServer>(state());
  }

  Credentials credentials(const std::string& token = kToken) const {
    return test::credentials_for(*server_, token);
  }

  static ApiClientOptions fast() {
    ApiClientOptions options;
    options.initial_backoff = 10ms;
    options.max_backoff = 50ms;
    options.request_timeout = 5s;
    return options;
  }

  std::size_t requests_to(std::string_view path) const {
    std::size_t count = 0;
    for (const std::string& line : server_->requests()) {
      count += line.find("\"path\": \"" + std::string(path) + "\"") != std::string::npos;
    }
    return count;
  }

  std::unique_ptr<test::FakeApiServer> server_;
};

TEST_F(KubeApiTest, ListsFollowContinueTokensAcrossPages) {
  ApiClient client(credentials(), fast());
  KubeApi api(client, nullptr, /*page_size=*/2);
  auto namespaces = api.list_namespaces();
  ASSERT_TRUE(namespaces) << namespaces.error().message;
  EXPECT_EQ(namespaces->size(), 5u);
  EXPECT_EQ(requests_to("/api/v1/namespaces"), 3u);
}

TEST_F(KubeApiTest, AnExpiredContinueTokenRestartsTheListOnce) {
  server_->set_state(state(R"(,"expire_continue":true)"));
  ApiClient client(credentials(), fast());
  KubeApi api(client, nullptr, 2);
  auto namespaces = api.list_namespaces();
  ASSERT_FALSE(namespaces);
  EXPECT_THAT(namespaces.error().message, HasSubstr("410"));
  EXPECT_EQ(requests_to("/api/v1/namespaces"), 4u);  // page 1, 410, page 1 again, 410
}

TEST_F(KubeApiTest, AWrongTokenIsUnauthorizedNamingTheCredentials) {
  ApiClient client(credentials("wrong"), fast());
  KubeApi api(client);
  auto namespaces = api.list_namespaces();
  ASSERT_FALSE(namespaces);
  EXPECT_THAT(namespaces.error().message, HasSubstr("unauthorized (401)"));
  EXPECT_THAT(namespaces.error().message, HasSubstr("credentials"));
}

TEST_F(KubeApiTest, AForbiddenReadNamesTheRbacVerbResourceAndNamespace) {
  server_->set_state(
      state(R"(,"forbidden":[{"verb":"get","resource":"configmaps","namespace":"istio-system"}])"));
  ApiClient client(credentials(), fast());
  KubeApi api(client);
  auto map = api.get_config_map("istio-system", "istio-ca-root-cert");
  ASSERT_FALSE(map);
  EXPECT_THAT(map.error().message,
              HasSubstr("meshprobe needs RBAC verb \"get\" on \"configmaps\" in namespace "
                        "\"istio-system\" (see deploy/rbac.yaml)"));
  EXPECT_THAT(map.error().message,
              HasSubstr("configmaps \"istio-ca-root-cert\" is forbidden: User "
                        "\"system:serviceaccount:meshprobe:meshprobe\" cannot get resource "
                        "\"configmaps\" in API group \"\" in the namespace \"istio-system\""));
}

TEST_F(KubeApiTest, AForbiddenClusterListSaysClusterWide) {
  server_->set_state(
      state(R"(,"forbidden":[{"verb":"list","resource":"mutatingwebhookconfigurations"}])"));
  ApiClient client(credentials(), fast());
  KubeApi api(client);
  auto list = api.list_webhook_configurations(WebhookKind::mutating);
  ASSERT_FALSE(list);
  EXPECT_THAT(list.error().message,
              HasSubstr("verb \"list\" on \"mutatingwebhookconfigurations\" in API group "
                        "\"admissionregistration.k8s.io\" (cluster-wide)"));
}

TEST_F(KubeApiTest, AMissingObjectIsAnAnswerNotAnError) {
  ApiClient client(credentials(), fast());
  KubeApi api(client);
  auto service = api.get_service("istio-system", "istiod-1-20");
  ASSERT_TRUE(service) << service.error().message;
  EXPECT_FALSE(*service);
}

TEST_F(KubeApiTest, TransientFailuresAreRetried) {
  server_->set_state(state(R"(,"faults":[{"path":"/api/v1/namespaces","status":503,"times":2}])"));
  ApiClient client(credentials(), fast());
  KubeApi api(client);
  auto namespaces = api.list_namespaces();
  ASSERT_TRUE(namespaces) << namespaces.error().message;
  EXPECT_EQ(requests_to("/api/v1/namespaces"), 3u);
}

TEST_F(KubeApiTest, TooManyRequestsIsRetried) {
  server_->set_state(state(
      R"(,"faults":[{"path":"/api/v1/namespaces","status":429,"reason":"TooManyRequests","times":1}])"));
  ApiClient client(credentials(), fast());
  KubeApi api(client);
  EXPECT_TRUE(api.list_namespaces());
}

TEST_F(KubeApiTest, PersistentFailuresGiveUpAfterTheLastAttempt) {
  server_->set_state(state(R"(,"faults":[{"path":"/api/v1/namespaces","status":500,"times":10}])"));
  ApiClientOptions options = fast();
  options.max_attempts = 3;
  ApiClient client(credentials(), options);
  KubeApi api(client);
  auto namespaces = api.list_namespaces();
  ASSERT_FALSE(namespaces);
  EXPECT_THAT(namespaces.error().message, HasSubstr("answered 500"));
  EXPECT_EQ(requests_to("/api/v1/namespaces"), 3u);
}

TEST_F(KubeApiTest, ClientErrorsAreNotRetried) {
  server_->set_state(state(R"(,"forbidden":[{"verb":"list","resource":"namespaces"}])"));
  ApiClient client(credentials(), fast());
  KubeApi api(client);
  EXPECT_FALSE(api.list_namespaces());
  EXPECT_EQ(requests_to("/api/v1/namespaces"), 1u);
}

TEST_F(KubeApiTest, ARotatedTokenFileIsReadAgain) {
  const std::filesystem::path token = server_->dir() / "token";
  test::write_file(token, std::string(kToken) + "\n");
  Credentials c = credentials("");
  c.token_file = token.string();
  ApiClient client(c, fast());
  KubeApi api(client);
  ASSERT_TRUE(api.list_namespaces());
  server_->set_state(state().replace(state().find(kToken), std::strlen(kToken), "rotated"));
  test::write_file(server_->dir() / "token.new", "rotated");
  std::filesystem::rename(server_->dir() / "token.new", token);
  auto after = api.list_namespaces();
  EXPECT_TRUE(after) << after.error().message;
}

TEST_F(KubeApiTest, ACaBundleChangeIsSeenByTheNextRead) {
  ApiClient client(credentials(), fast());
  KubeApi api(client);
  const CaSourceRef ref{CaSourceRef::Kind::mutating_webhook, "istio-sidecar-injector", "", "", ""};
  auto first = fetch_ca(api, ref);
  ASSERT_TRUE(first) << first.error().message;
  EXPECT_THAT(first->pem, HasSubstr("\nA\n"));
  server_->set_state(state("", kBundleB));
  auto second = fetch_ca(api, ref);
  ASSERT_TRUE(second) << second.error().message;
  EXPECT_THAT(second->pem, HasSubstr("\nB\n"));
}

TEST_F(KubeApiTest, ANamedWebhookEntryThatDoesNotExistIsSaidSo) {
  ApiClient client(credentials(), fast());
  KubeApi api(client);
  auto ca = fetch_ca(api, {CaSourceRef::Kind::mutating_webhook, "istio-sidecar-injector",
                           "object.sidecar-injector.istio.io", "", ""});
  ASSERT_FALSE(ca);
  EXPECT_THAT(ca.error().message, HasSubstr("has no webhook \"object.sidecar-injector.istio.io\""));
}

TEST_F(KubeApiTest, AConfigMapKeyIsACaSource) {
  ApiClient client(credentials(), fast());
  KubeApi api(client);
  auto ca = fetch_ca(api, {CaSourceRef::Kind::configmap, "istio-ca-root-cert", "", "istio-system",
                           "root-cert.pem"});
  ASSERT_TRUE(ca) << ca.error().message;
  EXPECT_EQ(ca->pem, "PEM");
}

TEST_F(KubeApiTest, TheClusterViewForHygieneIsReadInFull) {
  ApiClient client(credentials(), fast());
  KubeApi api(client);
  const ClusterView view = read_cluster_view(api, "istio-system");
  EXPECT_TRUE(view.unread.empty());
  EXPECT_EQ(view.mutating.size(), 1u);
  EXPECT_EQ(view.namespaces.size(), 5u);
  EXPECT_EQ(view.services, (std::set<std::string>{"istiod"}));
}

TEST_F(KubeApiTest, AForbiddenNamespaceListLeavesTheOtherReadsOfTheClusterView) {
  server_->set_state(state(R"(,"forbidden":[{"verb":"list","resource":"namespaces"}])"));
  ApiClient client(credentials(), fast());
  KubeApi api(client);
  const ClusterView view = read_cluster_view(api, "istio-system");
  // The pods to read are those of the namespaces selected for injection:
  // without the namespaces they are not listed, and say so.
  ASSERT_EQ(view.unread.size(), 2u);
  EXPECT_THAT(view.unread.at(ViewRead::namespaces), HasSubstr("forbidden (403)"));
  EXPECT_THAT(view.unread.at(ViewRead::pods), HasSubstr("not read: it needs"));
  EXPECT_EQ(view.mutating.size(), 1u);
  EXPECT_EQ(view.services, (std::set<std::string>{"istiod"}));
}

TEST_F(KubeApiTest, FailedCreateEventsAreListedAcrossNamespacesWithTheFieldSelector) {
  server_->set_state(state(R"(,"events":[
    {"metadata":{"name":"a.1","namespace":"shop","uid":"u-a"},"reason":"FailedCreate",
     "involvedObject":{"kind":"ReplicaSet","namespace":"shop","name":"a"},"message":"m","count":2},
    {"metadata":{"name":"b.1","namespace":"web","uid":"u-b"},"reason":"FailedCreate",
     "involvedObject":{"kind":"ReplicaSet","namespace":"web","name":"b"},"message":"m"},
    {"metadata":{"name":"c.1","namespace":"shop","uid":"u-c"},"reason":"Scheduled","message":"m"}])"));
  ApiClient client(credentials(), fast());
  KubeApi api(client, nullptr, 1);  // a page per event: the list is paged
  const auto events = api.list_failed_create_events();
  ASSERT_TRUE(events.has_value()) << events.error().message;
  ASSERT_EQ(events->size(), 2u);
  EXPECT_EQ((*events)[0].involved_name, "a");
  EXPECT_EQ((*events)[0].count, 2);
  EXPECT_EQ((*events)[1].involved_ns, "web");
}

// Three nodes and the kubernetes Service's slice, in the API's shapes.
constexpr const char* kControlPlane =
    R"(,"nodes":[{"metadata":{"name":"gke-a"},"spec":{"providerID":"gce://p/us-central1-a/gke-a"}},)"
    R"({"metadata":{"name":"gke-b"},"spec":{"providerID":"gce://p/us-central1-a/gke-b"}},)"
    R"({"metadata":{"name":"gke-c"},"spec":{"providerID":"gce://p/us-central1-a/gke-c"}}],)"
    R"("endpointslices":[{"metadata":{"name":"kubernetes","namespace":"default",)"
    R"("labels":{"kubernetes.io/service-name":"kubernetes"}},"addressType":"IPv4",)"
    R"("endpoints":[{"addresses":["172.16.0.2"],"conditions":{"ready":true}}],)"
    R"("ports":[{"name":"https","protocol":"TCP","port":6443}]}])";

TEST_F(KubeApiTest, TheControlPlaneIsReadFromOneNodeAndTheKubernetesSlice) {
  server_->set_state(state(kControlPlane));
  ApiClient client(credentials(), fast());
  KubeApi api(client);
  const ControlPlaneRead read = read_control_plane(api);
  EXPECT_TRUE(read.unread.empty());
  EXPECT_EQ(read.context.platform, Platform::gke);
  EXPECT_EQ(read.context.addresses, (std::vector<std::string>{"172.16.0.2"}));
  // One page of one node, not the list.
  EXPECT_EQ(requests_to("/api/v1/nodes"), 1u);
  for (const std::string& line : server_->requests()) {
    if (line.find(R"("path": "/api/v1/nodes")") != std::string::npos) {
      EXPECT_THAT(line, HasSubstr(R"("limit": "1")"));
    }
  }
}

TEST_F(KubeApiTest, AForbiddenNodeListLeavesThePlatformUnknownAndTheAddressesRead) {
  server_->set_state(
      state(std::string(kControlPlane) + R"(,"forbidden":[{"verb":"list","resource":"nodes"}])"));
  ApiClient client(credentials(), fast());
  KubeApi api(client);
  const ControlPlaneRead read = read_control_plane(api);
  EXPECT_EQ(read.context.platform, Platform::unknown);
  EXPECT_EQ(read.context.addresses, (std::vector<std::string>{"172.16.0.2"}));
  ASSERT_EQ(read.unread.size(), 1u);
  EXPECT_THAT(read.unread[0], HasSubstr("nodes: forbidden (403): meshprobe needs RBAC verb "
                                        "\"list\" on \"nodes\" (cluster-wide)"));
}

TEST_F(KubeApiTest, AForbiddenKubernetesSliceNamesTheDefaultNamespace) {
  server_->set_state(state(std::string(kControlPlane) +
                           R"(,"forbidden":[{"verb":"list","resource":"endpointslices",)"
                           R"("namespace":"default"}])"));
  ApiClient client(credentials(), fast());
  KubeApi api(client);
  const ControlPlaneRead read = read_control_plane(api);
  EXPECT_EQ(read.context.platform, Platform::gke);
  EXPECT_TRUE(read.context.addresses.empty());
  ASSERT_EQ(read.unread.size(), 1u);
  EXPECT_THAT(read.unread[0],
              HasSubstr("verb \"list\" on \"endpointslices\" in API group \"discovery.k8s.io\" "
                        "in namespace \"default\""));
}

// ConfigMaps as the cluster holds them: the mesh root, and the mesh config
// of revision 1-22 whose MeshConfig (a YAML string) names `address`.
std::string with_mesh_config(const std::string& name, const std::string& address) {
  return R"(,"configmaps":[{"metadata":{"name":"istio-ca-root-cert","namespace":"istio-system"},"data":{"root-cert.pem":"PEM"}},
    {"metadata":{"name":")" +
         name +
         R"(","namespace":"istio-system"},"data":{"mesh":"defaultConfig:\n  discoveryAddress: )" +
         address +
         R"(\n  proxyMetadata: {}\nrootNamespace: istio-system\n","meshNetworks":"networks: {}"}}])";
}

TEST_F(KubeApiTest, ARevisionsMeshConfigNamesTheDiscoveryAddressAndWhetherItsServiceExists) {
  server_->set_state(state(with_mesh_config("istio-1-22", "istiod-1-22.istio-system.svc:15012")));
  ApiClient client(credentials(), fast());
  KubeApi api(client);
  const auto discovery = read_mesh_discovery(api, "istio-system", "1-22");
  ASSERT_TRUE(discovery) << discovery.error().message;
  EXPECT_EQ(discovery->address, "istiod-1-22.istio-system.svc:15012");
  EXPECT_TRUE(discovery->configured);
  EXPECT_THAT(discovery->source, HasSubstr("ConfigMap istio-system/istio-1-22"));
  ASSERT_TRUE(discovery->service);
  EXPECT_EQ(discovery->service->name, "istiod-1-22");
  EXPECT_FALSE(discovery->service_exists);
}

TEST_F(KubeApiTest, WithoutAMeshConfigTheDiscoveryAddressIsIstiosDefault) {
  ApiClient client(credentials(), fast());
  KubeApi api(client);
  const auto discovery = read_mesh_discovery(api, "istio-system", "");
  ASSERT_TRUE(discovery) << discovery.error().message;
  EXPECT_EQ(discovery->address, "istiod.istio-system.svc:15012");
  EXPECT_FALSE(discovery->configured);
  EXPECT_THAT(discovery->source, HasSubstr("ConfigMap istio-system/istio does not exist"));
  EXPECT_TRUE(discovery->service_exists);
}

TEST_F(KubeApiTest, AForbiddenMeshConfigIsAnUnreadReadOfTheClusterView) {
  server_->set_state(
      state(R"(,"forbidden":[{"verb":"get","resource":"configmaps","namespace":"istio-system"}])"));
  ApiClient client(credentials(), fast());
  KubeApi api(client);
  const ClusterView view = read_cluster_view(api, "istio-system");
  ASSERT_EQ(view.unread.size(), 1u);
  EXPECT_THAT(view.unread.at(ViewRead::mesh_config),
              HasSubstr("reading ConfigMap istio-system/istio: forbidden (403)"));
  EXPECT_FALSE(view.mesh_discovery);
}

TEST_F(KubeApiTest, AKindTheServerDoesNotServeIsAnUnreadListWithTheServersWords) {
  server_->set_state(state(R"(,"absent_kinds":["validatingwebhookconfigurations"])"));
  ApiClient client(credentials(), fast());
  KubeApi api(client);
  const ClusterView view = read_cluster_view(api, "istio-system");
  ASSERT_EQ(view.unread.size(), 1u);
  EXPECT_THAT(view.unread.at(ViewRead::validating),
              HasSubstr("not found (404): the server could not find the requested resource"));
}

TEST_F(KubeApiTest, AnApiServerWithAnotherCaIsRefused) {
  Credentials c = credentials();
  c.ca_pem = test::TestCa::create("someone else").cert_pem;
  ApiClient client(c, fast());
  KubeApi api(client);
  auto namespaces = api.list_namespaces();
  ASSERT_FALSE(namespaces);
  EXPECT_THAT(namespaces.error().message, HasSubstr("cannot reach the Kubernetes API server"));
  EXPECT_THAT(namespaces.error().message, HasSubstr("certificate"));
}

TEST_F(KubeApiTest, AfterTheApiServerProvedUnreachableABatchOfReadsGivesUpAtOnce) {
  Credentials c = credentials();
  c.server = "https://127.0.0.1:1";  // nothing listens
  ApiClientOptions options = fast();
  options.initial_backoff = 100ms;
  options.max_backoff = 100ms;
  ApiClient client(c, options);
  KubeApi api(client);
  api.give_up_when_unreachable();
  const auto first_started = std::chrono::steady_clock::now();
  auto first = api.list_namespaces();
  const auto first_took = std::chrono::steady_clock::now() - first_started;
  ASSERT_FALSE(first);
  EXPECT_THAT(first.error().message, HasSubstr("after 3 attempts"));
  EXPECT_GE(first_took, 100ms);  // it retried
  const auto second_started = std::chrono::steady_clock::now();
  auto second = api.get_service("istio-system", "istiod");
  EXPECT_LT(std::chrono::steady_clock::now() - second_started, 50ms);
  ASSERT_FALSE(second);
  EXPECT_THAT(second.error().message, HasSubstr("cannot reach the Kubernetes API server"));
}

TEST_F(KubeApiTest, ProxyRequestsAreNotRetried) {
  server_->set_state(state(
      R"(,"faults":[{"path":"/api/v1/namespaces/istio-system/services/https:istiod:443/proxy","status":503,"times":5}])"));
  ApiClient client(credentials(), fast());
  KubeApi api(client);
  const HttpResponse response =
      api.proxy_get("/api/v1/namespaces/istio-system/services/https:istiod:443/proxy/ready", {});
  EXPECT_EQ(response.status, 503);
  EXPECT_EQ(response.attempts, 1);
}

TEST_F(KubeApiTest, ACancelledRequestEndsPromptly) {
  // The proxy to a dropped address holds the request for 10 s.
  server_->set_state(state(
      R"(,"endpointslices":[{"metadata":{"name":"s","namespace":"istio-system","labels":{"kubernetes.io/service-name":"istiod"}},"addressType":"IPv4","endpoints":[{"addresses":["127.0.0.1"],"conditions":{"ready":true}}],"ports":[{"name":"https-webhook","port":15017}]}],"drop":["127.0.0.1:15017"],"dial_timeout":10)"));
  ApiClient client(credentials(), fast());
  KubeApi api(client);
  std::atomic<bool> cancel{false};
  std::thread canceller([&cancel] {
    std::this_thread::sleep_for(300ms);
    cancel = true;
  });
  const auto started = std::chrono::steady_clock::now();
  RequestOptions request;
  request.cancel = &cancel;
  const HttpResponse response = api.proxy_get(
      "/api/v1/namespaces/istio-system/services/https:istiod:443/proxy/ready", request);
  canceller.join();
  EXPECT_TRUE(response.cancelled);
  EXPECT_LT(std::chrono::steady_clock::now() - started, 3s);
}

TEST_F(KubeApiTest, ATimeoutAfterTheRequestWasSentIsToldApart) {
  server_->set_state(state(
      R"(,"endpointslices":[{"metadata":{"name":"s","namespace":"istio-system","labels":{"kubernetes.io/service-name":"istiod"}},"addressType":"IPv4","endpoints":[{"addresses":["127.0.0.1"],"conditions":{"ready":true}}],"ports":[{"name":"https-webhook","port":15017}]}],"drop":["127.0.0.1:15017"],"dial_timeout":5)"));
  ApiClient client(credentials(), fast());
  KubeApi api(client);
  RequestOptions request;
  request.timeout = 500ms;
  const HttpResponse response = api.proxy_get(
      "/api/v1/namespaces/istio-system/services/https:istiod:443/proxy/ready", request);
  EXPECT_EQ(response.status, 0);
  EXPECT_TRUE(response.timed_out);
  EXPECT_TRUE(response.request_sent);
}

}  // namespace
}  // namespace meshprobe::kube
