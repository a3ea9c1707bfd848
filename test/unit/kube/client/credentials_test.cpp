#include "kube/client/credentials.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "test/support/test_pki.h"

namespace meshprobe::kube {
namespace {

using testing::HasSubstr;

constexpr const char* kPem = "-----BEGIN CERTIFICATE-----\nMIIBkube\n-----END CERTIFICATE-----\n";
// base64 of kPem
constexpr const char* kPemBase64 =
    "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCk1JSUJrdWJlCi0tLS0tRU5EIENFUlRJRklDQVRFLS0tLS0K";

std::string kubeconfig(const std::string& user, const std::string& cluster_extra = "") {
  return R"(apiVersion: v1
kind: Config
current-context: prod
clusters:
- name: prod-cluster
  cluster:
    server: https://34.1.2.3/
    certificate-authority-data: )" +
         std::string(kPemBase64) + "\n" + cluster_extra + R"(
- name: other-cluster
  cluster:
    server: https://10.0.0.1:6443
contexts:
- name: prod
  context: {cluster: prod-cluster, user: admin, namespace: istio-system}
- name: other
  context: {cluster: other-cluster, user: admin}
users:
- name: admin
  user:
)" + user;
}

TEST(Kubeconfig, UsesTheCurrentContextsClusterAndToken) {
  auto credentials = parse_kubeconfig(kubeconfig("    token: abc123\n"), "/home/me/.kube/config");
  ASSERT_TRUE(credentials) << credentials.error().message;
  EXPECT_EQ(credentials->server, "https://34.1.2.3");
  EXPECT_EQ(credentials->ca_pem, kPem);
  EXPECT_EQ(credentials->token, "abc123");
  EXPECT_THAT(credentials->description, HasSubstr("context prod"));
}

TEST(Kubeconfig, UsesANamedContextOverTheCurrentOne) {
  auto credentials = parse_kubeconfig(kubeconfig("    token: abc\n"), "kc", "other");
  ASSERT_TRUE(credentials) << credentials.error().message;
  EXPECT_EQ(credentials->server, "https://10.0.0.1:6443");
  EXPECT_TRUE(credentials->ca_pem.empty());
}

TEST(Kubeconfig, ReadsFilesRelativeToTheKubeconfigsDirectory) {
  test::TempDir dir;
  test::write_file(dir.path() / "ca.crt", kPem);
  test::write_file(dir.path() / "token", "file-token\n");
  const std::string text = R"(current-context: c
clusters: [{name: k, cluster: {server: "https://127.0.0.1:6443", certificate-authority: ca.crt}}]
contexts: [{name: c, context: {cluster: k, user: u}}]
users: [{name: u, user: {tokenFile: token}}]
)";
  test::write_file(dir.path() / "config", text);
  auto credentials = load_kubeconfig((dir.path() / "config").string());
  ASSERT_TRUE(credentials) << credentials.error().message;
  EXPECT_EQ(credentials->ca_pem, kPem);
  EXPECT_EQ(credentials->token_file, (dir.path() / "token").string());
  EXPECT_TRUE(credentials->token.empty());
}

TEST(Kubeconfig, DecodesClientCertificateAndKeyData) {
  auto credentials =
      parse_kubeconfig(kubeconfig(std::string("    client-certificate-data: ") + kPemBase64 +
                                  "\n    client-key-data: " + kPemBase64 + "\n"),
                       "kc");
  ASSERT_TRUE(credentials) << credentials.error().message;
  EXPECT_EQ(credentials->client_cert_pem, kPem);
  EXPECT_EQ(credentials->client_key_pem, kPem);
}

TEST(Kubeconfig, RefusesACertificateWithoutItsKey) {
  auto credentials = parse_kubeconfig(
      kubeconfig(std::string("    client-certificate-data: ") + kPemBase64 + "\n"), "kc");
  ASSERT_FALSE(credentials);
  EXPECT_THAT(credentials.error().message, HasSubstr("without its key"));
}

TEST(Kubeconfig, RefusesAnUnknownContextNamingIt) {
  auto credentials = parse_kubeconfig(kubeconfig("    token: a\n"), "/k/config", "staging");
  ASSERT_FALSE(credentials);
  EXPECT_EQ(credentials.error().message, "kubeconfig /k/config: context \"staging\" not found");
}

constexpr const char* kGkeUser = R"(    exec:
      apiVersion: client.authentication.k8s.io/v1beta1
      command: gke-gcloud-auth-plugin
      args: [--verbose]
      env:
      - {name: CLOUDSDK_CORE_PROJECT, value: prod}
      installHint: Install gke-gcloud-auth-plugin for use with kubectl
      provideClusterInfo: true
)";

TEST(Kubeconfig, ReadsAnExecPluginUserWithTheClusterItDescribes) {
  auto credentials =
      parse_kubeconfig(kubeconfig(kGkeUser,
                                  "    extensions:\n    - name: client.authentication.k8s.io/exec\n"
                                  "      extension: {audience: prod, port: 443, debug: false}\n"),
                       "/home/me/.kube/config");
  ASSERT_TRUE(credentials) << credentials.error().message;
  ASSERT_TRUE(credentials->exec);
  const ExecConfig& exec = *credentials->exec;
  EXPECT_EQ(exec.user, "admin");
  EXPECT_EQ(exec.api_version, kExecApiV1beta1);
  EXPECT_EQ(exec.command, "gke-gcloud-auth-plugin");
  EXPECT_EQ(exec.base_dir, "/home/me/.kube");
  EXPECT_EQ(exec.args, std::vector<std::string>{"--verbose"});
  ASSERT_EQ(exec.env.size(), 1u);
  EXPECT_EQ(exec.env[0].first, "CLOUDSDK_CORE_PROJECT");
  EXPECT_EQ(exec.env[0].second, "prod");
  EXPECT_EQ(exec.install_hint, "Install gke-gcloud-auth-plugin for use with kubectl");
  EXPECT_TRUE(exec.provide_cluster_info);
  EXPECT_EQ(exec.interactive_mode, ExecInteractiveMode::if_available);  // v1beta1's default
  EXPECT_EQ(exec.server, "https://34.1.2.3");
  EXPECT_EQ(exec.ca_pem, kPem);
  EXPECT_EQ(exec.extension_json, R"({"audience":"prod","port":443,"debug":false})");
  EXPECT_THAT(exec_info_json(exec), HasSubstr(R"("config":{"audience":"prod")"));
}

TEST(Kubeconfig, RefusesAV1ExecPluginWithoutInteractiveMode) {
  auto credentials =
      parse_kubeconfig(kubeconfig("    exec:\n      command: kubelogin\n      apiVersion: "
                                  "client.authentication.k8s.io/v1\n"),
                       "kc");
  ASSERT_FALSE(credentials);
  EXPECT_THAT(credentials.error().message, HasSubstr("interactiveMode must be specified"));
}

TEST(Kubeconfig, RefusesInteractiveModeAlwaysNamingTheUser) {
  auto credentials = parse_kubeconfig(
      kubeconfig("    exec:\n      command: kubelogin\n      interactiveMode: Always\n"
                 "      apiVersion: client.authentication.k8s.io/v1\n"),
      "kc");
  ASSERT_FALSE(credentials);
  EXPECT_THAT(credentials.error().message, HasSubstr("user \"admin\""));
  EXPECT_THAT(credentials.error().message, HasSubstr("never has a terminal"));
}

TEST(Kubeconfig, RefusesAnExecPluginOfAnUnknownApiVersion) {
  auto credentials = parse_kubeconfig(kubeconfig("    exec:\n      command: p\n      apiVersion: "
                                                 "client.authentication.k8s.io/v1alpha1\n"),
                                      "kc");
  ASSERT_FALSE(credentials);
  EXPECT_THAT(credentials.error().message, HasSubstr("invalid apiVersion"));
}

TEST(Kubeconfig, RefusesAuthProvidersNamingThePluginThatReplacedThem) {
  const std::pair<const char*, const char*> providers[] = {
      {"gcp", "gke-gcloud-auth-plugin"}, {"azure", "kubelogin"}, {"oidc", "kubelogin"}};
  for (const auto& [name, plugin] : providers) {
    auto credentials = parse_kubeconfig(
        kubeconfig(std::string("    auth-provider:\n      name: ") + name + "\n"), "kc");
    ASSERT_FALSE(credentials);
    EXPECT_THAT(credentials.error().message, HasSubstr("removed in 1.26")) << name;
    EXPECT_THAT(credentials.error().message, HasSubstr(plugin)) << name;
  }
}

TEST(ExecCredential, ReadsTheTokenAndTheExpiry) {
  ExecConfig config;
  config.api_version = std::string(kExecApiV1);
  auto credential = parse_exec_credential(
      R"({"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential",
          "status":{"token":"t","expirationTimestamp":"2030-01-02T03:04:05+01:00"}})",
      config);
  ASSERT_TRUE(credential) << credential.error().message;
  EXPECT_EQ(credential->token, "t");
  ASSERT_TRUE(credential->expiry);
  EXPECT_EQ(*credential->expiry, parse_rfc3339("2030-01-02T02:04:05Z"));
}

TEST(ExecCredential, RefusesACertificateWithoutItsKeyWithoutQuotingEither) {
  ExecConfig config;
  config.api_version = std::string(kExecApiV1beta1);
  auto credential = parse_exec_credential(
      R"({"apiVersion":"client.authentication.k8s.io/v1beta1","kind":"ExecCredential",
          "status":{"clientCertificateData":"-----BEGIN CERTIFICATE-----secret"}})",
      config);
  ASSERT_FALSE(credential);
  EXPECT_THAT(credential.error().message, HasSubstr("only certificate or key"));
  EXPECT_THAT(credential.error().message, testing::Not(HasSubstr("secret")));
}

TEST(Rfc3339, ReadsFractionsAndRefusesOtherText) {
  EXPECT_EQ(parse_rfc3339("2030-01-02T03:04:05.5Z"),
            *parse_rfc3339("2030-01-02T03:04:05Z") + std::chrono::milliseconds(500));
  EXPECT_FALSE(parse_rfc3339("2030-01-02 03:04:05"));
  EXPECT_FALSE(parse_rfc3339("tomorrow"));
}

TEST(Kubeconfig, RefusesCaDataThatIsNotBase64) {
  std::string text = kubeconfig("    token: a\n");
  text.replace(text.find(kPemBase64), 4, "L%%%");
  auto credentials = parse_kubeconfig(text, "kc");
  ASSERT_FALSE(credentials);
  EXPECT_THAT(credentials.error().message, HasSubstr("not base64"));
}

TEST(Kubeconfig, ReadsInsecureSkipTlsVerifyAndProxyUrl) {
  auto credentials = parse_kubeconfig(
      kubeconfig("    token: a\n",
                 "    insecure-skip-tls-verify: true\n    proxy-url: http://proxy:3128\n"),
      "kc");
  ASSERT_TRUE(credentials) << credentials.error().message;
  EXPECT_TRUE(credentials->insecure_skip_tls_verify);
  EXPECT_EQ(credentials->proxy_url, "http://proxy:3128");
}

TEST(InCluster, ReadsTheServiceAccountAndTheServiceAddress) {
  test::TempDir dir;
  test::write_file(dir.path() / "token", "sa-token");
  test::write_file(dir.path() / "ca.crt", kPem);
  test::write_file(dir.path() / "namespace", "meshprobe");
  auto credentials = in_cluster_credentials({"10.96.0.1", "443", dir.path().string()});
  ASSERT_TRUE(credentials) << credentials.error().message;
  EXPECT_EQ(credentials->server, "https://10.96.0.1:443");
  EXPECT_EQ(credentials->token_file, (dir.path() / "token").string());
  EXPECT_EQ(credentials->ca_pem, kPem);
  EXPECT_THAT(credentials->description, HasSubstr("in-cluster service account"));
}

TEST(InCluster, BracketsAnIpv6ServiceAddress) {
  test::TempDir dir;
  test::write_file(dir.path() / "token", "t");
  test::write_file(dir.path() / "ca.crt", kPem);
  auto credentials = in_cluster_credentials({"fd00::1", "443", dir.path().string()});
  ASSERT_TRUE(credentials) << credentials.error().message;
  EXPECT_EQ(credentials->server, "https://[fd00::1]:443");
}

TEST(InCluster, OutsideAPodSaysSoAndWhatToDo) {
  auto credentials = in_cluster_credentials({"", "", "/nonexistent"});
  ASSERT_FALSE(credentials);
  EXPECT_THAT(credentials.error().message, HasSubstr("KUBERNETES_SERVICE_HOST"));
  EXPECT_THAT(credentials.error().message, HasSubstr("--kubeconfig"));
}

TEST(InCluster, WithoutAMountedTokenSaysWhere) {
  test::TempDir dir;
  auto credentials = in_cluster_credentials({"10.96.0.1", "443", dir.path().string()});
  ASSERT_FALSE(credentials);
  EXPECT_THAT(credentials.error().message, HasSubstr("automountServiceAccountToken"));
}

}  // namespace
}  // namespace meshprobe::kube
