// The emulated API server's dry-run creates (fake_apiserver.py with
// fake_admission.py): the admission chain calls a real Go webhook server
// (meshprobe-gopeer webhook-serve) with Go's net/http client, and answers
// with kube-apiserver's status codes, reasons and messages.
#include <boost/json.hpp>
#include <curl/curl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <chrono>
#include <fstream>
#include <memory>
#include <thread>

#include "common/base64.h"
#include "fake_apiserver_process.h"
#include "test/support/posix_socket.h"
#include "test/support/test_pki.h"

extern char** environ;

namespace meshprobe::test {
namespace {

using namespace std::chrono_literals;
using testing::HasSubstr;
using testing::MatchesRegex;

constexpr const char* kToken = "admission-test-token";
constexpr const char* kInjector = "namespace.sidecar-injector.istio.io";
constexpr const char* kValidator = "validation.istio.io";
constexpr const char* kPodsPath = "/api/v1/namespaces/app/pods?dryRun=All&fieldManager=meshprobe";
constexpr const char* kPod =
    R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":"probe","labels":{"app":"probe"}},)"
    R"("spec":{"containers":[{"name":"app","image":"busybox"}]}})";

// meshprobe-gopeer webhook-serve as a child process: istiod's webhook
// server in one of its modes (inject, deny, error, hang).
class WebhookServer {
 public:
  WebhookServer(const std::string& mode, const TestCert& cert, const std::filesystem::path& dir) {
    const PemFiles files = cert.write(dir, "webhook-" + mode);
    const std::string port_file = (dir / ("webhook-" + mode + ".port")).string();
    std::vector<std::string> args = {
        MESHPROBE_GOPEER_BIN, "webhook-serve", "--mode",           mode,          "--cert",
        files.cert.string(),  "--key",         files.key.string(), "--port-file", port_file};
    std::vector<char*> argv;
    for (std::string& arg : args) argv.push_back(arg.data());
    argv.push_back(nullptr);
    if (posix_spawn(&pid_, MESHPROBE_GOPEER_BIN, nullptr, nullptr, argv.data(), environ) != 0) {
      throw std::runtime_error("cannot start meshprobe-gopeer");
    }
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    while (std::chrono::steady_clock::now() < deadline) {
      std::ifstream in(port_file);
      std::string address;
      if (in >> address && !address.empty()) {
        address_ = address;
        return;
      }
      std::this_thread::sleep_for(20ms);
    }
    stop();
    throw std::runtime_error("meshprobe-gopeer webhook-serve did not start");
  }
  ~WebhookServer() { stop(); }
  WebhookServer(const WebhookServer&) = delete;
  WebhookServer& operator=(const WebhookServer&) = delete;

  // "127.0.0.1:PORT"
  const std::string& address() const { return address_; }
  std::string port() const { return address_.substr(address_.rfind(':') + 1); }

 private:
  void stop() {
    if (pid_ > 0) {
      kill(pid_, SIGTERM);
      waitpid(pid_, nullptr, 0);
      pid_ = -1;
    }
  }
  pid_t pid_ = -1;
  std::string address_;
};

// A port on 127.0.0.1 nothing listens on: bound, then closed.
std::string closed_address() {
  const UniqueFd fd = bind_socket("127.0.0.1", 0, SOCK_STREAM);
  return "127.0.0.1:" + std::to_string(local_port(fd.get()));
}

struct Answer {
  long code = 0;
  boost::json::object body;
};

size_t collect(char* data, size_t size, size_t count, void* out) {
  static_cast<std::string*>(out)->append(data, size * count);
  return size * count;
}

// The webhook configurations, the istio-system Service behind them and the
// namespaces, as an Istio install has them.
struct Cluster {
  std::string ca_bundle;  // base64 PEM
  std::string endpoint;   // IP:PORT of istiod's webhook port; empty: no endpoints
  bool service = true;
  std::string failure_policy = "Fail";
  int timeout_seconds = 2;
  bool validating = false;
  std::string validated_versions =
      R"("*")";       // the validator rule's apiVersions, as JSON list items
  std::string extra;  // more top-level state keys, each with a leading comma

  std::string json() const {
    const std::string webhook_common =
        R"("clientConfig":{"service":{"namespace":"istio-system","name":"istiod","port":443,"path":"/inject"},"caBundle":")" +
        ca_bundle + R"("},"failurePolicy":")" + failure_policy +
        R"(","sideEffects":"None","admissionReviewVersions":["v1"],"timeoutSeconds":)" +
        std::to_string(timeout_seconds);
    std::string state = R"({"token":")" + std::string(kToken) + R"(",
      "mutatingwebhookconfigurations":[{"metadata":{"name":"istio-sidecar-injector"},"webhooks":[{"name":")" +
                        kInjector + R"(",)" + webhook_common + R"(,
        "namespaceSelector":{"matchExpressions":[{"key":"istio-injection","operator":"In","values":["enabled"]},
                                                  {"key":"istio.io/rev","operator":"DoesNotExist"}]},
        "objectSelector":{"matchExpressions":[{"key":"sidecar.istio.io/inject","operator":"NotIn","values":["false"]}]},
        "rules":[{"operations":["CREATE"],"apiGroups":[""],"apiVersions":["v1"],"resources":["pods"]}]}]}],
      "validatingwebhookconfigurations":[)";
    if (validating) {
      state += R"({"metadata":{"name":"istio-validator-istio-system"},"webhooks":[{"name":")" +
               std::string(kValidator) + R"(",)" + webhook_common + R"(,
        "rules":[{"operations":["CREATE","UPDATE"],"apiGroups":["networking.istio.io"],"apiVersions":[)" +
               validated_versions + R"(],"resources":["*"]}]}]})";
    }
    state += R"(],
      "namespaces":[{"metadata":{"name":"app","labels":{"istio-injection":"enabled"}}},
                    {"metadata":{"name":"plain"}},{"metadata":{"name":"istio-system"}}],
      "services":[)";
    if (service) {
      state +=
          R"({"metadata":{"name":"istiod","namespace":"istio-system"},"spec":{"ports":[{"name":"https-webhook","port":443,"targetPort":15017}]}})";
    }
    state += R"(],
      "endpointslices":[)";
    if (!endpoint.empty()) {
      const std::size_t colon = endpoint.rfind(':');
      state +=
          R"({"metadata":{"name":"istiod-x","namespace":"istio-system","labels":{"kubernetes.io/service-name":"istiod"}},
        "ports":[{"name":"https-webhook","port":)" +
          endpoint.substr(colon + 1) + R"(}],"endpoints":[{"addresses":[")" +
          endpoint.substr(0, colon) + R"("],"conditions":{"ready":true}}]})";
    }
    return state + "]" + extra + "}";
  }
};

class AdmissionChainTest : public testing::Test {
 protected:
  void SetUp() override {
    if (!FakeApiServer::available()) GTEST_SKIP() << "python3 is not installed";
    curl_global_init(CURL_GLOBAL_DEFAULT);
  }

  // istiod's serving certificate: its CA's leaf for the Service name.
  TestCert istiod_cert(Validity validity = {}) const {
    return istiod_ca_.issue(
        LeafSpec{.common_name = "", .sans = {"istiod.istio-system.svc"}, .validity = validity});
  }
  std::string istiod_bundle() const { return base64_encode(istiod_ca_.cert_pem); }

  // The cluster with istiod's CA as the webhooks' caBundle and `endpoint`
  // as the Service's one ready endpoint.
  Cluster cluster(const std::string& endpoint) const {
    Cluster c;
    c.ca_bundle = istiod_bundle();
    c.endpoint = endpoint;
    return c;
  }

  void start(const Cluster& cluster) {
    server_ = std::make_unique<FakeApiServer>(
        cluster.json(),
        FakeApiServerOptions{.verify_client_certs = false, .gopeer = MESHPROBE_GOPEER_BIN});
  }

  std::unique_ptr<WebhookServer> webhook(const std::string& mode, const TestCert& cert) const {
    return std::make_unique<WebhookServer>(mode, cert, scratch_.path());
  }

  Answer post(const std::string& path, const std::string& body,
              const std::string& token = kToken) const {
    CURL* curl = curl_easy_init();
    std::string received;
    const std::string url = server_->server() + path;
    curl_blob ca{};
    std::string ca_pem = server_->ca_pem();
    ca.data = ca_pem.data();
    ca.len = ca_pem.size();
    ca.flags = CURL_BLOB_COPY;
    curl_slist* headers = curl_slist_append(nullptr, "Content-Type: application/json");
    const std::string authorization = "Authorization: Bearer " + token;
    if (!token.empty()) headers = curl_slist_append(headers, authorization.c_str());
    curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
    curl_easy_setopt(curl, CURLOPT_CAINFO_BLOB, &ca);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body.c_str());
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &received);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT, 30L);
    const CURLcode result = curl_easy_perform(curl);
    Answer answer;
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &answer.code);
    curl_slist_free_all(headers);
    curl_easy_cleanup(curl);
    if (result != CURLE_OK)
      throw std::runtime_error(std::string("POST failed: ") + curl_easy_strerror(result));
    answer.body = boost::json::parse(received).as_object();
    return answer;
  }

  Answer create_pod(const std::string& ns = "app") const {
    std::string path = kPodsPath;
    path.replace(path.find("/app/"), 5, "/" + ns + "/");
    return post(path, kPod);
  }

  static std::string message(const Answer& answer) {
    return std::string(answer.body.at("message").as_string());
  }
  static std::string reason(const Answer& answer) {
    return std::string(answer.body.at("reason").as_string());
  }
  static std::vector<std::string> container_names(const Answer& answer) {
    std::vector<std::string> names;
    for (const auto& container : answer.body.at("spec").at("containers").as_array()) {
      names.emplace_back(container.at("name").as_string());
    }
    return names;
  }
  // The start of the API server's message for a failed call of istiod's injector.
  static std::string call_failure(int timeout_seconds = 2) {
    return "Internal error occurred: failed calling webhook \"" + std::string(kInjector) +
           "\": failed to call webhook: Post "
           "\"https://istiod.istio-system.svc:443/inject?timeout=" +
           std::to_string(timeout_seconds) + "s\": ";
  }
  // Asserts the API server's 500 for a failed call whose reason is `message`
  // after `Internal error occurred: `, the message also its one cause.
  static void expect_internal_error(const Answer& answer, const std::string& message_after_prefix) {
    EXPECT_EQ(answer.code, 500);
    EXPECT_EQ(reason(answer), "InternalError");
    EXPECT_EQ(message(answer), "Internal error occurred: " + message_after_prefix);
    EXPECT_EQ(std::string(answer.body.at("details").at("causes").at(0).at("message").as_string()),
              message_after_prefix);
  }
  // The same, for an error under `Post "URL": `.
  static void expect_call_failure(const Answer& answer, const std::string& error,
                                  int timeout_seconds = 2) {
    const std::string prefix = "Internal error occurred: ";
    expect_internal_error(answer, call_failure(timeout_seconds).substr(prefix.size()) + error);
  }

  TempDir scratch_;
  TestCa istiod_ca_ = TestCa::create("istiod CA");
  std::unique_ptr<FakeApiServer> server_;
};

TEST_F(AdmissionChainTest, InjectionAddsTheIstioProxyContainer) {
  const auto injector = webhook("inject", istiod_cert());
  start(cluster(injector->address()));
  const Answer answer = create_pod();
  EXPECT_EQ(answer.code, 201);
  EXPECT_THAT(container_names(answer), testing::ElementsAre("app", "istio-proxy"));
  EXPECT_EQ(answer.body.at("metadata").at("labels").at("security.istio.io/tlsMode").as_string(),
            "istio");
  EXPECT_FALSE(answer.body.at("metadata").at("uid").as_string().empty());
}

TEST_F(AdmissionChainTest, NamespaceTheSelectorLeavesOutGetsNoSidecar) {
  const auto injector = webhook("inject", istiod_cert());
  start(cluster(injector->address()));
  const Answer answer = create_pod("plain");
  EXPECT_EQ(answer.code, 201);
  EXPECT_THAT(container_names(answer), testing::ElementsAre("app"));
}

TEST_F(AdmissionChainTest, FailurePolicyIgnoreWithTheWebhookDownCreatesWithoutSidecar) {
  Cluster c = cluster(closed_address());
  c.failure_policy = "Ignore";
  start(c);
  const Answer answer = create_pod();
  EXPECT_EQ(answer.code, 201);
  EXPECT_THAT(container_names(answer), testing::ElementsAre("app"));
}

TEST_F(AdmissionChainTest, DroppedDialFailsWithDialIoTimeoutAfterTheWebhookTimeout) {
  const std::string dropped = closed_address();
  Cluster c = cluster(dropped);
  c.extra = R"(,"drop":[")" + dropped + R"("])";
  start(c);
  const auto started = std::chrono::steady_clock::now();
  const Answer answer = create_pod();
  EXPECT_GE(std::chrono::steady_clock::now() - started, 1900ms);
  expect_call_failure(answer, "dial tcp " + dropped + ": i/o timeout");
}

TEST_F(AdmissionChainTest, ClosedPortFailsWithConnectionRefused) {
  const std::string closed = closed_address();
  start(cluster(closed));
  expect_call_failure(create_pod(), "dial tcp " + closed + ": connect: connection refused");
}

TEST_F(AdmissionChainTest, ServiceWithoutReadyEndpointsFailsWithNoEndpointsAvailable) {
  start(cluster(""));
  expect_call_failure(create_pod(), "no endpoints available for service \"istiod\"");
}

TEST_F(AdmissionChainTest, MissingServiceFailsWithServiceNotFound) {
  Cluster c = cluster("");
  c.service = false;
  start(c);
  expect_call_failure(create_pod(), "service \"istiod\" not found");
}

TEST_F(AdmissionChainTest, WrongCaBundleFailsWithUnknownAuthority) {
  const auto injector = webhook("inject", istiod_cert());
  const TestCa other = TestCa::create("another CA");
  Cluster c = cluster(injector->address());
  c.ca_bundle = base64_encode(other.cert_pem);
  start(c);
  expect_call_failure(
      create_pod(),
      "tls: failed to verify certificate: x509: certificate signed by unknown authority");
}

TEST_F(AdmissionChainTest, CertificateForAnotherNameFailsWithNameMismatch) {
  const auto injector =
      webhook("inject",
              istiod_ca_.issue(LeafSpec{
                  .common_name = "", .sans = {"istiod-canary.istio-system.svc"}, .validity = {}}));
  start(cluster(injector->address()));
  expect_call_failure(create_pod(),
                      "tls: failed to verify certificate: x509: certificate is valid for "
                      "istiod-canary.istio-system.svc, not istiod.istio-system.svc");
}

TEST_F(AdmissionChainTest, ExpiredCertificateFailsWithExpired) {
  const auto injector = webhook("inject", istiod_cert(Validity{-48h, -24h}));
  start(cluster(injector->address()));
  const Answer answer = create_pod();
  EXPECT_EQ(answer.code, 500);
  EXPECT_EQ(reason(answer), "InternalError");
  EXPECT_THAT(
      message(answer),
      MatchesRegex(
          ".*: tls: failed to verify certificate: x509: certificate has expired or is not yet "
          "valid: current time [0-9TZ:-]+ is after [0-9TZ:-]+"));
  EXPECT_THAT(message(answer), testing::StartsWith(call_failure()));
}

TEST_F(AdmissionChainTest, WebhookHttp500FailsWithTheServerError) {
  const auto injector = webhook("error", istiod_cert());
  start(cluster(injector->address()));
  expect_internal_error(
      create_pod(), "failed calling webhook \"" + std::string(kInjector) +
                        "\": failed to call webhook: an error on the server (\"webhook failed\") "
                        "has prevented the request from succeeding");
}

TEST_F(AdmissionChainTest, HangingWebhookFailsWithContextDeadlineExceeded) {
  const auto injector = webhook("hang", istiod_cert());
  Cluster c = cluster(injector->address());
  c.timeout_seconds = 1;
  start(c);
  expect_call_failure(create_pod(), "context deadline exceeded", 1);
}

TEST_F(AdmissionChainTest, ValidatingWebhookDenialIsTheWebhooksStatus) {
  const auto validator = webhook("deny", istiod_cert());
  Cluster c = cluster(validator->address());
  c.validating = true;
  start(c);
  const Answer answer = post(
      "/apis/networking.istio.io/v1/namespaces/app/gateways?dryRun=All",
      R"({"apiVersion":"networking.istio.io/v1","kind":"Gateway","metadata":{"name":"gw"},"spec":{}})");
  EXPECT_EQ(answer.code, 400);
  EXPECT_EQ(answer.body.at("status").as_string(), "Failure");
  EXPECT_FALSE(answer.body.contains("reason"));
  EXPECT_EQ(message(answer),
            "admission webhook \"" + std::string(kValidator) +
                "\" denied the request: configuration is invalid: gateway must have at least "
                "one server");
}

TEST_F(AdmissionChainTest, GatewayOfAnotherServedVersionIsValidatedAsEquivalent) {
  const auto validator = webhook("deny", istiod_cert());
  Cluster c = cluster(validator->address());
  c.validating = true;
  c.validated_versions = R"("v1alpha3")";
  start(c);
  const Answer answer = post(
      "/apis/networking.istio.io/v1beta1/namespaces/app/gateways?dryRun=All",
      R"({"apiVersion":"networking.istio.io/v1beta1","kind":"Gateway","metadata":{"name":"gw"},"spec":{}})");
  EXPECT_EQ(answer.code, 400);
  EXPECT_THAT(message(answer),
              testing::StartsWith("admission webhook \"" + std::string(kValidator) +
                                  "\" denied the request: "));
}

TEST_F(AdmissionChainTest, CreateWithoutDryRunAllIsRefused) {
  start(cluster(""));
  const Answer answer = post("/api/v1/namespaces/app/pods", kPod);
  EXPECT_EQ(answer.code, 400);
  EXPECT_EQ(reason(answer), "BadRequest");
  EXPECT_THAT(server_->requests().back(), HasSubstr(R"("method": "POST")"));
}

TEST_F(AdmissionChainTest, CreateWithoutTokenIsUnauthorized) {
  start(cluster(""));
  const Answer answer = post(kPodsPath, kPod, "");
  EXPECT_EQ(answer.code, 401);
  EXPECT_EQ(reason(answer), "Unauthorized");
  EXPECT_EQ(message(answer), "Unauthorized");
}

TEST_F(AdmissionChainTest, ForbiddenCreateIsForbiddenWithKubesMessage) {
  Cluster c = cluster("");
  c.extra = R"(,"user":"system:serviceaccount:meshprobe:meshprobe",
                  "forbidden":[{"verb":"create","resource":"pods","namespace":"app"}])";
  start(c);
  const Answer answer = create_pod();
  EXPECT_EQ(answer.code, 403);
  EXPECT_EQ(reason(answer), "Forbidden");
  EXPECT_EQ(message(answer),
            "pods is forbidden: User \"system:serviceaccount:meshprobe:meshprobe\" cannot create "
            "resource "
            "\"pods\" in API group \"\" in the namespace \"app\"");
}

TEST_F(AdmissionChainTest, AbsentNamespaceIsNotFound) {
  start(cluster(""));
  const Answer answer = create_pod("missing");
  EXPECT_EQ(answer.code, 404);
  EXPECT_EQ(reason(answer), "NotFound");
  EXPECT_EQ(message(answer), "namespaces \"missing\" not found");
}

}  // namespace
}  // namespace meshprobe::test
