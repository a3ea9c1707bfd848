// Exec credential plugins (shell scripts in plugins/) against the emulated
// API server with real bearer and client-certificate authentication: the
// credential, its cache and expiry, a 401's re-run, and each way a plugin
// fails, none of which may show what the plugin printed on stdout.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <thread>

#include "fake_apiserver_process.h"
#include "kube/client/api_client.h"
#include "kube/client/credentials.h"
#include "test/support/test_pki.h"

namespace meshprobe::kube {
namespace {

using namespace std::chrono_literals;
using testing::HasSubstr;
using testing::Not;

const std::string kPlugins = std::string(MESHPROBE_EXEC_PLUGINS_DIR);

std::string state_with_token(const std::string& token) {
  return R"({"token":")" + token + R"(","namespaces":[{"metadata":{"name":"default"}}]})";
}

std::string utc_in(std::chrono::seconds from_now) {
  const std::time_t t =
      std::chrono::system_clock::to_time_t(std::chrono::system_clock::now() + from_now);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return text;
}

class ExecPluginTest : public testing::Test {
 protected:
  void SetUp() override {
    if (!test::FakeApiServer::available()) GTEST_SKIP() << "python3 is not installed";
    server_ = std::make_unique<test::FakeApiServer>(state_with_token("plugin-token"), true);
    write("token", "plugin-token");
  }

  void write(const std::string& name, const std::string& text) const {
    test::write_file(state_.path() / name, text);
  }
  std::string read(const std::string& name) const {
    std::ifstream in(state_.path() / name);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }
  int runs() const {
    const std::string text = read("runs");
    return static_cast<int>(std::count(text.begin(), text.end(), '\n'));
  }

  ExecConfig plugin(const std::string& script, std::string_view version = kExecApiV1beta1) {
    ExecConfig config;
    config.user = "exec-user";
    config.api_version = std::string(version);
    config.command = kPlugins + "/" + script;
    config.env = {{"PLUGIN_STATE", state_.path().string()},
                  {"PLUGIN_API_VERSION", std::string(version)}};
    config.server = server_->server();
    config.ca_pem = server_->ca_pem();
    config.on_stderr = [this](std::string_view text) { stderr_ += text; };
    return config;
  }

  Credentials credentials(ExecConfig config) const {
    Credentials c = test::credentials_for(*server_);
    c.exec = std::move(config);
    return c;
  }

  static ApiClientOptions fast() {
    ApiClientOptions options;
    options.initial_backoff = 10ms;
    options.max_backoff = 50ms;
    options.request_timeout = 5s;
    return options;
  }

  std::string last_auth() const {
    const std::vector<std::string> lines = server_->requests();
    return lines.empty() ? std::string() : lines.back();
  }

  test::TempDir state_;
  std::string stderr_;
  std::unique_ptr<test::FakeApiServer> server_;
};

TEST_F(ExecPluginTest, V1beta1PluginTokenAuthenticatesAndIsCachedWithoutExpiry) {
  ApiClient client(credentials(plugin("credential.sh")), fast());
  EXPECT_EQ(client.get("/api/v1/namespaces").status, 200);
  EXPECT_EQ(client.get("/api/v1/namespaces").status, 200);
  EXPECT_EQ(runs(), 1);
  EXPECT_THAT(last_auth(), HasSubstr("\"auth\": \"token\""));
}

TEST_F(ExecPluginTest, V1PluginClientCertificateAuthenticates) {
  const test::TestCert cert =
      server_->ca().issue(test::LeafSpec{.common_name = "exec-user", .sans = {}, .validity = {}});
  std::filesystem::remove(state_.path() / "token");
  write("cert.pem", cert.cert_pem);
  write("key.pem", cert.key_pem);
  ExecConfig config = plugin("credential.sh", kExecApiV1);
  config.interactive_mode = ExecInteractiveMode::never;
  ApiClient client(credentials(config), fast());
  EXPECT_EQ(client.get("/api/v1/namespaces").status, 200);
  EXPECT_THAT(last_auth(), HasSubstr("\"auth\": \"certificate\""));
}

TEST_F(ExecPluginTest, PluginRunsAgainOnlyOnceItsCredentialHasExpired) {
  write("expiry", utc_in(4s));  // 3 to 4 s away: whole seconds
  ExecConfig config = plugin("credential.sh");
  config.refresh_before = 0ms;
  ApiClient client(credentials(config), fast());
  EXPECT_EQ(client.get("/api/v1/namespaces").status, 200);
  EXPECT_EQ(client.get("/api/v1/namespaces").status, 200);
  EXPECT_EQ(runs(), 1);
  std::this_thread::sleep_for(4500ms);
  EXPECT_EQ(client.get("/api/v1/namespaces").status, 200);
  EXPECT_EQ(runs(), 2);
}

TEST_F(ExecPluginTest, CredentialCloseToItsExpiryIsRenewedBeforeUse) {
  write("expiry", utc_in(5s));  // inside the default 10 s margin
  ApiClient client(credentials(plugin("credential.sh")), fast());
  EXPECT_EQ(client.get("/api/v1/namespaces").status, 200);
  EXPECT_EQ(client.get("/api/v1/namespaces").status, 200);
  EXPECT_EQ(runs(), 2);
}

TEST_F(ExecPluginTest, Unauthorized401RunsThePluginAgainOnce) {
  ApiClient client(credentials(plugin("credential.sh")), fast());
  ASSERT_EQ(client.get("/api/v1/namespaces").status, 200);
  server_->set_state(state_with_token("rotated-token"));
  write("token", "rotated-token");
  EXPECT_EQ(client.get("/api/v1/namespaces").status, 200);
  EXPECT_EQ(runs(), 2);
  server_->set_state(state_with_token("revoked"));
  EXPECT_EQ(client.get("/api/v1/namespaces").status, 401);
  EXPECT_EQ(runs(), 3);
}

TEST_F(ExecPluginTest, ConcurrentRequestsRunThePluginOnce) {
  ApiClient client(credentials(plugin("credential.sh")), fast());
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&] { ok += client.get("/api/v1/namespaces").status == 200; });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(ok, 4);
  EXPECT_EQ(runs(), 1);
}

TEST_F(ExecPluginTest, PluginStderrGoesToTheLog) {
  ApiClient client(credentials(plugin("credential.sh")), fast());
  ASSERT_EQ(client.get("/api/v1/namespaces").status, 200);
  EXPECT_THAT(stderr_, HasSubstr("credential plugin: run 1"));
}

TEST_F(ExecPluginTest, FailingPluginReportsExitCodeAndStderrButNotStdout) {
  ApiClient client(credentials(plugin("failing.sh")), fast());
  const HttpResponse response = client.get("/api/v1/namespaces");
  EXPECT_TRUE(response.credential_error);
  EXPECT_EQ(response.attempts, 1);  // not retried as if the server were down
  EXPECT_THAT(response.error, HasSubstr("failed with exit code 1"));
  EXPECT_THAT(response.error, HasSubstr("run: gcloud auth login"));
  EXPECT_THAT(response.error, HasSubstr("\"exec-user\""));
  EXPECT_THAT(response.error, Not(HasSubstr("stdout-secret")));
  EXPECT_TRUE(server_->requests().empty());
}

TEST_F(ExecPluginTest, HangingPluginIsKilledAtItsTimeout) {
  ExecConfig config = plugin("hang.sh");
  config.timeout = 300ms;
  ApiClient client(credentials(config), fast());
  const auto started = std::chrono::steady_clock::now();
  const HttpResponse response = client.get("/api/v1/namespaces");
  EXPECT_LT(std::chrono::steady_clock::now() - started, 5s);
  EXPECT_THAT(response.error, HasSubstr("did not finish within 300ms and was killed"));
}

TEST_F(ExecPluginTest, MissingBinaryIsReportedWithItsInstallHint) {
  ExecConfig config = plugin("credential.sh");
  config.command = "meshprobe-test-no-such-auth-plugin";
  config.install_hint = "Install it with: apt install no-such-auth-plugin";
  ApiClient client(credentials(config), fast());
  const HttpResponse response = client.get("/api/v1/namespaces");
  EXPECT_THAT(response.error,
              HasSubstr("exec: executable meshprobe-test-no-such-auth-plugin not found"));
  EXPECT_THAT(response.error, HasSubstr("apt install no-such-auth-plugin"));
}

TEST_F(ExecPluginTest, ProvideClusterInfoHandsThePluginTheServer) {
  ExecConfig config = plugin("credential.sh");
  config.provide_cluster_info = true;
  ApiClient client(credentials(config), fast());
  ASSERT_EQ(client.get("/api/v1/namespaces").status, 200);
  const std::string info = read("exec-info");
  EXPECT_THAT(info, HasSubstr(R"("kind":"ExecCredential")"));
  EXPECT_THAT(info, HasSubstr(R"("interactive":false)"));
  EXPECT_THAT(info, HasSubstr(R"("server":")" + server_->server() + "\""));
  EXPECT_THAT(info, HasSubstr(R"("certificate-authority-data":")"));
}

TEST_F(ExecPluginTest, WithoutProvideClusterInfoThePluginGetsNoCluster) {
  ApiClient client(credentials(plugin("credential.sh")), fast());
  ASSERT_EQ(client.get("/api/v1/namespaces").status, 200);
  EXPECT_THAT(read("exec-info"), Not(HasSubstr("\"cluster\"")));
}

TEST_F(ExecPluginTest, ReturnedApiVersionMustMatchTheConfiguredOne) {
  ExecConfig config = plugin("credential.sh", kExecApiV1);
  config.env[1].second = std::string(kExecApiV1beta1);
  ApiClient client(credentials(config), fast());
  const HttpResponse response = client.get("/api/v1/namespaces");
  EXPECT_THAT(response.error, HasSubstr("plugin returned version"));
  EXPECT_THAT(response.error, Not(HasSubstr("plugin-token")));
}

TEST_F(ExecPluginTest, KubeconfigRelativeCommandRunsFromTheKubeconfigDirectory) {
  const std::string kubeconfig = R"(
apiVersion: v1
kind: Config
current-context: c
contexts: [{name: c, context: {cluster: k, user: u}}]
clusters: [{name: k, cluster: {server: ")" +
                                 server_->server() + R"("}}]
users:
- name: u
  user:
    exec:
      apiVersion: client.authentication.k8s.io/v1
      interactiveMode: Never
      command: ./plugins/credential.sh
      env:
      - {name: PLUGIN_STATE, value: ")" +
                                 state_.path().string() + R"("}
      - {name: PLUGIN_API_VERSION, value: client.authentication.k8s.io/v1}
)";
  auto loaded = parse_kubeconfig(kubeconfig, kPlugins + "/../kubeconfig.yaml");
  ASSERT_TRUE(loaded) << loaded.error().message;
  loaded->ca_pem = server_->ca_pem();
  loaded->exec->on_stderr = [](std::string_view) {};
  ApiClient client(std::move(*loaded), fast());
  EXPECT_EQ(client.get("/api/v1/namespaces").status, 200);
}

}  // namespace
}  // namespace meshprobe::kube
