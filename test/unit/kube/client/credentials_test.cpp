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

TEST(Kubeconfig, RefusesCredentialPluginsWithAWayOut) {
  auto credentials = parse_kubeconfig(
      kubeconfig("    exec:\n      command: gke-gcloud-auth-plugin\n      apiVersion: "
                 "client.authentication.k8s.io/v1beta1\n"),
      "kc");
  ASSERT_FALSE(credentials);
  EXPECT_THAT(credentials.error().message, HasSubstr("credential plugin"));
  EXPECT_THAT(credentials.error().message, HasSubstr("kubectl create token"));
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
