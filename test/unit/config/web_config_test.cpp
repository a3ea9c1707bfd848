// The endpoint's web config (exporter-toolkit's web-config.yml format):
// strict loading with FILE:LINE errors that never show a hash, the TLS files
// loaded and checked at load time, and bcrypt through libxcrypt.
#include "config/web_config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <openssl/ssl.h>

#include <filesystem>
#include <string>

#include "config/config.h"
#include "test/support/test_pki.h"

namespace meshprobe {
namespace {

using testing::AllOf;
using testing::HasSubstr;
using testing::Not;
using testing::StartsWith;

// Made with libxcrypt (crypt_rn), cost 4 to keep the tests fast.
constexpr char kPassword[] = "s3cret-pass";
constexpr char kHash2y[] = "$2y$04$abcdefghijklmnopqrstuuaUNpTaGyHErb7YklXKRt/SEtSLxPST6";
constexpr char kOtherHash2b[] = "$2b$04$zyxwvutsrqponmlkjihgfeLoHyiKPnG.ZCs1lGAv6n9qcHladX3QC";

class WebConfigTest : public testing::Test {
 protected:
  void SetUp() override {
    const test::TestCa ca = test::TestCa::create("web-ca");
    leaf_ = ca.write(dir_.path(), "ca");
    server_ = ca.issue({"localhost", {"localhost", "127.0.0.1"}, {}}).write(dir_.path(), "server");
    const test::TestCa other = test::TestCa::create("other-ca");
    other_ = other.issue({"localhost", {"localhost"}, {}}).write(dir_.path(), "other");
  }

  // Writes web.yml with `text` and loads it.
  WebConfig load(const std::string& text) {
    test::write_file(file(), text);
    return load_web_config(file().string());
  }

  // The ConfigError's message for `text`, or "" when it loads.
  std::string error_of(const std::string& text) {
    try {
      load(text);
    } catch (const ConfigError& error) {
      return error.what();
    }
    return "";
  }

  std::filesystem::path file() const { return dir_.path() / "web.yml"; }
  std::string tls_block() const {
    return "tls_server_config:\n  cert_file: " + server_.cert.string() +
           "\n  key_file: " + server_.key.string() + "\n";
  }

  test::TempDir dir_;
  test::PemFiles leaf_;  // the CA's own certificate and key
  test::PemFiles server_;
  test::PemFiles other_;
};

TEST_F(WebConfigTest, LoadsTlsAndUsersAndBuildsTheContext) {
  const WebConfig web = load(tls_block() + "  client_ca_file: " + leaf_.cert.string() +
                             "\n  client_auth_type: RequireAndVerifyClientCert\n"
                             "  min_version: TLS13\n"
                             "basic_auth_users:\n  prometheus: " +
                             kHash2y + "\n  grafana: '" + kOtherHash2b + "'\n");
  EXPECT_EQ(web.source, file().string());
  ASSERT_TRUE(web.tls.has_value());
  EXPECT_EQ(web.tls->cert_file, server_.cert.string());
  EXPECT_EQ(web.tls->client_auth, ClientAuthType::require_and_verify_client_cert);
  EXPECT_EQ(web.tls->min_version, TlsVersion::tls13);
  ASSERT_NE(web.tls->context, nullptr);
  EXPECT_EQ(SSL_CTX_get_min_proto_version(web.tls->context.get()), TLS1_3_VERSION);
  EXPECT_EQ(SSL_CTX_get_verify_mode(web.tls->context.get()),
            SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT);
  EXPECT_TRUE(web.requires_auth());
  EXPECT_EQ(web.basic_auth_users.at("prometheus"), kHash2y);
  EXPECT_EQ(web.basic_auth_users.at("grafana"), kOtherHash2b);
}

TEST_F(WebConfigTest, RelativeFilesAreTakenFromTheWebConfigsDirectory) {
  const WebConfig web =
      load("tls_server_config: {cert_file: server.pem, key_file: server-key.pem}\n");
  ASSERT_TRUE(web.tls.has_value());
  EXPECT_EQ(web.tls->cert_file, (dir_.path() / "server.pem").string());
  EXPECT_EQ(web.tls->key_file, (dir_.path() / "server-key.pem").string());
}

TEST_F(WebConfigTest, EmptyFileMeansPlainHttpWithoutAuth) {
  const WebConfig web = load("# nothing yet\n");
  EXPECT_FALSE(web.tls.has_value());
  EXPECT_FALSE(web.requires_auth());
}

TEST_F(WebConfigTest, UnknownKeysNameFileLineAndKey) {
  EXPECT_THAT(error_of("basic_auth_users: {}\ntls_config: {}\n"),
              AllOf(StartsWith(file().string() + ":2: "), HasSubstr("unknown key \"tls_config\""),
                    HasSubstr("known keys: tls_server_config, basic_auth_users")));
  EXPECT_THAT(error_of(tls_block() + "  client_auth: RequireAndVerifyClientCert\n"),
              AllOf(StartsWith(file().string() + ":4: "), HasSubstr("\"client_auth\""),
                    HasSubstr("in \"tls_server_config\"")));
}

TEST_F(WebConfigTest, ExporterToolkitSettingsMeshprobeLacksAreNamedAsSuch) {
  EXPECT_THAT(error_of(tls_block() + "  cipher_suites: [TLS_AES_128_GCM_SHA256]\n"),
              AllOf(StartsWith(file().string() + ":4: "),
                    HasSubstr("\"cipher_suites\" in \"tls_server_config\" is an exporter-toolkit "
                              "setting meshprobe does not support")));
  EXPECT_THAT(error_of("http_server_config: {http2: false}\n"),
              AllOf(StartsWith(file().string() + ":1: "), HasSubstr("does not support")));
}

TEST_F(WebConfigTest, TlsNeedsCertAndKey) {
  EXPECT_THAT(error_of("tls_server_config:\n  cert_file: " + server_.cert.string() + "\n"),
              AllOf(StartsWith(file().string() + ":1: "), HasSubstr("needs \"key_file\"")));
  EXPECT_THAT(error_of("tls_server_config: {min_version: TLS12}\n"),
              HasSubstr("needs \"cert_file\" and \"key_file\""));
}

TEST_F(WebConfigTest, MissingFileIsNamedWithItsLine) {
  EXPECT_THAT(error_of("tls_server_config:\n  cert_file: " + server_.cert.string() +
                       "\n  key_file: nope-key.pem\n"),
              AllOf(StartsWith(file().string() + ":3: "),
                    HasSubstr((dir_.path() / "nope-key.pem").string()),
                    HasSubstr("cannot read: No such file or directory")));
}

TEST_F(WebConfigTest, KeyOfAnotherCertificateIsRefused) {
  EXPECT_THAT(error_of("tls_server_config:\n  cert_file: " + server_.cert.string() +
                       "\n  key_file: " + other_.key.string() + "\n"),
              AllOf(StartsWith(file().string() + ":1: "),
                    HasSubstr("is not the key of the certificate in")));
}

TEST_F(WebConfigTest, NotAPemCertificateIsRefused) {
  test::write_file(dir_.path() / "junk.pem", "not a certificate\n");
  EXPECT_THAT(error_of("tls_server_config:\n  cert_file: junk.pem\n  key_file: " +
                       server_.key.string() + "\n"),
              AllOf(HasSubstr("\"cert_file\""), HasSubstr("cannot load a PEM certificate chain")));
}

TEST_F(WebConfigTest, ClientAuthTypeIsCheckedAgainstTheClientCa) {
  EXPECT_THAT(error_of(tls_block() + "  client_auth_type: RequireAndVerifyClientCert\n"),
              HasSubstr("needs \"client_ca_file\""));
  EXPECT_THAT(error_of(tls_block() + "  client_ca_file: " + leaf_.cert.string() + "\n"),
              AllOf(StartsWith(file().string() + ":4: "),
                    HasSubstr("\"client_ca_file\" is set but \"client_auth_type\" is not")));
  EXPECT_THAT(error_of(tls_block() + "  client_auth_type: RequireClientCerts\n"),
              AllOf(HasSubstr("must be one of NoClientCert, RequestClientCert"),
                    HasSubstr("got \"RequireClientCerts\"")));
  EXPECT_THAT(error_of(tls_block() + "  min_version: TLS11\n"),
              HasSubstr("\"min_version\" must be one of TLS12, TLS13"));
  EXPECT_THAT(error_of(tls_block() + "  min_version: TLS13\n  max_version: TLS12\n"),
              HasSubstr("\"min_version\" is above \"max_version\""));
}

TEST_F(WebConfigTest, AHashThatIsNotBcryptIsRefusedWithoutBeingShown) {
  const std::string sha = "{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=";
  const std::string error = error_of("basic_auth_users:\n  alice: '" + sha + "'\n");
  EXPECT_THAT(error, AllOf(StartsWith(file().string() + ":2: "),
                           HasSubstr("user \"alice\" is not a bcrypt hash")));
  EXPECT_THAT(error, Not(HasSubstr("W6ph5Mm5")));
  // A bcrypt hash too costly to check on every wrong password.
  const std::string costly = std::string(kHash2y).replace(4, 2, "20");
  EXPECT_THAT(error_of("basic_auth_users:\n  bob: " + costly + "\n"),
              AllOf(HasSubstr("a cost from 4 to 16"), Not(HasSubstr(costly.substr(7)))));
  EXPECT_THAT(error_of("basic_auth_users:\n  'a:b': " + std::string(kHash2y) + "\n"),
              HasSubstr("without ':'"));
  EXPECT_THAT(error_of("basic_auth_users:\n  bob: " + std::string(kHash2y) +
                       "\n  bob: " + kOtherHash2b + "\n"),
              AllOf(StartsWith(file().string() + ":3: "), HasSubstr("duplicate user \"bob\"")));
}

TEST_F(WebConfigTest, SyntaxErrorsAndWrongShapesHaveALine) {
  EXPECT_THAT(error_of("basic_auth_users: [a, b]\n"),
              AllOf(StartsWith(file().string() + ":1: "), HasSubstr("must be a map")));
  EXPECT_THAT(error_of("tls_server_config: {cert_file: [x]\n"), HasSubstr("YAML syntax error"));
  EXPECT_THAT(error_of(", oops\n"), HasSubstr("cannot start with ','"));
}

TEST(WebConfigLoadTest, TheAgentConfigNamesItRelativeToItself) {
  const std::string targets = "targets: [{url: \"tcp://127.0.0.1:1\"}]\nnode_name: n\n";
  EXPECT_EQ(parse_config("web_config_file: web.yml\n" + targets, "/etc/meshprobe/config.yaml")
                .web_config_file,
            "/etc/meshprobe/web.yml");
  EXPECT_EQ(
      parse_config("web_config_file: /srv/web.yml\n" + targets, "config.yaml").web_config_file,
      "/srv/web.yml");
  EXPECT_EQ(parse_config(targets, "config.yaml").web_config_file, "");
  try {
    parse_config(targets + "web_config_file: ''\n", "config.yaml");
    FAIL() << "accepted an empty web_config_file";
  } catch (const ConfigError& error) {
    EXPECT_THAT(error.what(), StartsWith("config.yaml:3: \"web_config_file\" must not be empty"));
  }
}

TEST(WebConfigLoadTest, UnreadableFileIsNamed) {
  try {
    load_web_config("/nonexistent/web.yml");
    FAIL() << "loaded";
  } catch (const ConfigError& error) {
    EXPECT_THAT(error.what(), StartsWith("/nonexistent/web.yml: cannot read"));
  }
}

// A directory reads as an empty file through a stream: without this refusal
// a web_config_file naming one would serve plain HTTP without auth.
TEST(WebConfigLoadTest, ADirectoryIsRefusedNotReadAsPlainHttp) {
  const test::TempDir dir;
  try {
    load_web_config(dir.path().string());
    FAIL() << "a directory loaded as a web config";
  } catch (const ConfigError& error) {
    EXPECT_THAT(error.what(), HasSubstr("cannot read: Is a directory"));
  }
}

TEST(BcryptTest, MatchesOnlyTheRightPassword) {
  EXPECT_TRUE(bcrypt_matches(kHash2y, kPassword));
  EXPECT_FALSE(bcrypt_matches(kHash2y, "s3cret-pasS"));
  EXPECT_FALSE(bcrypt_matches(kHash2y, ""));
  EXPECT_TRUE(bcrypt_matches(kOtherHash2b, "other-pass"));
  EXPECT_FALSE(bcrypt_matches(kOtherHash2b, kPassword));
  // A password cut short by a NUL must not match the part before it.
  EXPECT_FALSE(bcrypt_matches(kHash2y, std::string(kPassword) + std::string(1, '\0') + "x"));
}

TEST(BcryptTest, AgreesWithOpenBsdsTestVector) {
  // From crypt_blowfish's test vectors ($2a$, as OpenBSD wrote them).
  EXPECT_TRUE(
      bcrypt_matches("$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW", "U*U"));
  EXPECT_FALSE(
      bcrypt_matches("$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW", "U*V"));
}

TEST(BcryptTest, RecognisesTheHashForm) {
  EXPECT_TRUE(is_bcrypt_hash(kHash2y));
  EXPECT_TRUE(is_bcrypt_hash(kOtherHash2b));
  EXPECT_FALSE(is_bcrypt_hash("$2x$04$abcdefghijklmnopqrstuuaUNpTaGyHErb7YklXKRt/SEtSLxPST6"));
  EXPECT_FALSE(is_bcrypt_hash("$2y$03$abcdefghijklmnopqrstuuaUNpTaGyHErb7YklXKRt/SEtSLxPST6"));
  EXPECT_FALSE(is_bcrypt_hash("$2y$04$abcdefghijklmnopqrstuuaUNpTaGyHErb7YklXKRt/SEtSLxPST"));
  EXPECT_FALSE(is_bcrypt_hash("$2y$04$abcdefghijklmnopqrstuuaUNpTaGyHErb7YklXKRt/SEtSLxPS!6"));
  EXPECT_FALSE(is_bcrypt_hash("$6$salt$hash"));
  EXPECT_FALSE(bcrypt_matches("$6$salt$hash", kPassword));
}

}  // namespace
}  // namespace meshprobe
