// The config file as a whole and its top-level settings: listen, vantage,
// node name, concurrency and log format, with their built-in defaults; what
// refuses a whole file (unreadable, empty, not one YAML map, unknown or
// duplicate top-level keys); and the listen address parser.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <unistd.h>

#include <cstdlib>
#include <map>
#include <optional>
#include <string>
#include <utility>

#include "config/config.h"
#include "config/listen_address.h"
#include "config_fixture.h"

namespace meshprobe::config_test {
namespace {

using namespace std::chrono_literals;
using testing::HasSubstr;
using testing::StartsWith;

// Sets (or unsets, with nullopt) an environment variable for one test.
class ScopedEnv {
 public:
  ScopedEnv(std::string name, const std::optional<std::string>& value) : name_(std::move(name)) {
    if (const char* old = std::getenv(name_.c_str())) saved_ = old;
    if (value) {
      setenv(name_.c_str(), value->c_str(), 1);
    } else {
      unsetenv(name_.c_str());
    }
  }
  ~ScopedEnv() {
    if (saved_) {
      setenv(name_.c_str(), saved_->c_str(), 1);
    } else {
      unsetenv(name_.c_str());
    }
  }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  std::string name_;
  std::optional<std::string> saved_;
};

// ---- loaded ----------------------------------------------------------------

TEST_F(ConfigTest, LoadsAFullConfigWithEveryField) {
  const Config config = parsed(R"(
listen: "[::1]:9800"
vantage: control-plane
node_name: worker-7
node_name_env: MY_NODE
max_concurrency: 64
log: {format: json}
defaults: {interval: 20s, timeout: 4s, expiry_warning_days: 30}
ca_bundles:
  istio-root: {file: "{ca_file}"}
  os: {system: true}
targets:
  - name: istiod-webhook
    url: https://istiod.istio-system.svc:15017/ready?full=1
    ca: istio-root
    server_name: istiod-canary.istio-system.svc
    interval: 5s
    timeout: 2s
    expected_status: 204
    expiry_warning_days: 7
    labels: {team: mesh, tier: control}
  - url: grpc://10.0.0.1:15012
    ca: os
)");
  EXPECT_EQ(config.source, kSource);
  EXPECT_EQ(config.listen, (ListenAddress{"::1", 9800}));
  EXPECT_EQ(config.vantage, "control-plane");
  EXPECT_EQ(config.node_name, "worker-7");
  EXPECT_EQ(config.max_concurrency, 64);
  EXPECT_EQ(config.log_format, LogFormat::json);
  EXPECT_EQ(config.default_interval, 20s);
  EXPECT_EQ(config.default_timeout, 4s);
  EXPECT_EQ(config.expiry_warning_days, 30);

  ASSERT_EQ(config.ca_bundles.size(), 2u);
  const CaBundleSource& root = config.ca_bundles[0];
  EXPECT_EQ(root.name, "istio-root");
  EXPECT_EQ(root.kind, CaSourceKind::file);
  EXPECT_EQ(root.file, ca_file_);
  EXPECT_EQ(root.line, 9);
  ASSERT_NE(root.bundle, nullptr);
  EXPECT_EQ(root.bundle->certificate_count(), 1u);
  const CaBundleSource& os = config.ca_bundles[1];
  EXPECT_EQ(os.kind, CaSourceKind::system);
  EXPECT_NE(os.bundle, nullptr);

  ASSERT_EQ(config.targets.size(), 2u);
  const TargetConfig& webhook = config.targets[0];
  EXPECT_EQ(webhook.line, 12);
  EXPECT_EQ(webhook.ca, "istio-root");
  EXPECT_EQ(webhook.interval, 5s);
  EXPECT_EQ(webhook.target->name, "istiod-webhook");
  EXPECT_EQ(webhook.target->url, "https://istiod.istio-system.svc:15017/ready?full=1");
  EXPECT_EQ(webhook.target->kind, ProbeKind::https);
  EXPECT_EQ(webhook.target->host, "istiod.istio-system.svc");
  EXPECT_EQ(webhook.target->port, 15017);
  EXPECT_EQ(webhook.target->path, "/ready?full=1");
  EXPECT_EQ(webhook.target->server_name, "istiod-canary.istio-system.svc");
  EXPECT_EQ(webhook.target->ca, root.bundle);
  EXPECT_EQ(webhook.target->timeout, 2s);
  EXPECT_EQ(webhook.target->expected_status, 204);
  EXPECT_EQ(webhook.target->expiry_warning_days, 7);
  EXPECT_EQ(webhook.target->labels,
            (std::map<std::string, std::string>{{"team", "mesh"}, {"tier", "control"}}));

  const TargetConfig& xds = config.targets[1];
  EXPECT_EQ(xds.line, 21);
  EXPECT_EQ(xds.target->name, "grpc://10.0.0.1:15012");
  EXPECT_EQ(xds.target->kind, ProbeKind::grpc);
  EXPECT_EQ(xds.target->ca, os.bundle);
}

TEST_F(ConfigTest, AppliesBuiltInDefaultsToLeftOutKeys) {
  const Config config = parsed(R"(
targets:
  - url: tls://istiod.istio-system.svc:15012
)");
  EXPECT_EQ(config.listen, (ListenAddress{"0.0.0.0", 9717}));
  EXPECT_EQ(config.vantage, "node");
  EXPECT_EQ(config.max_concurrency, 256);
  EXPECT_EQ(config.log_format, LogFormat::logfmt);
  EXPECT_TRUE(config.ca_bundles.empty());
  ASSERT_EQ(config.targets.size(), 1u);
  const TargetConfig& target = config.targets[0];
  EXPECT_EQ(target.interval, 10s);
  EXPECT_EQ(target.ca, "");
  EXPECT_EQ(target.target->name, "tls://istiod.istio-system.svc:15012");
  EXPECT_EQ(target.target->server_name, "istiod.istio-system.svc");
  EXPECT_EQ(target.target->ca, nullptr);
  EXPECT_EQ(target.target->timeout, 3s);
  EXPECT_EQ(target.target->expected_status, 200);
  EXPECT_EQ(target.target->expiry_warning_days, 14);
  EXPECT_TRUE(target.target->labels.empty());
}

TEST_F(ConfigTest, TakesTheNodeNameFromNodeNameEnv) {
  const ScopedEnv node_name("NODE_NAME", "gke-pool-1-abcd");
  const Config config = parsed(R"(
targets: [{url: "tcp://a.example:1"}]
)");
  EXPECT_EQ(config.node_name, "gke-pool-1-abcd");
}

TEST_F(ConfigTest, TakesTheNodeNameFromTheVariableNodeNameEnvNames) {
  const ScopedEnv default_variable("NODE_NAME", "not-this-one");
  const ScopedEnv chosen_variable("MESHPROBE_TEST_NODE", "node-from-my-var");
  const Config config = parsed(R"(
node_name_env: MESHPROBE_TEST_NODE
targets: [{url: "tcp://a.example:1"}]
)");
  EXPECT_EQ(config.node_name, "node-from-my-var");
}

TEST_F(ConfigTest, PrefersAnExplicitNodeNameOverTheEnvironment) {
  const ScopedEnv node_name("NODE_NAME", "from-env");
  const Config config = parsed(R"(
node_name: bastion-1
targets: [{url: "tcp://a.example:1"}]
)");
  EXPECT_EQ(config.node_name, "bastion-1");
}

TEST_F(ConfigTest, FallsBackToTheHostNameWithoutNodeName) {
  const ScopedEnv node_name("NODE_NAME", std::nullopt);
  char host[256] = {};
  ASSERT_EQ(gethostname(host, sizeof host - 1), 0);
  const Config config = parsed(R"(
node_name: ""
targets: [{url: "tcp://a.example:1"}]
)");
  EXPECT_EQ(config.node_name, host);
}

TEST_F(ConfigTest, LoadsAConfigFileFromDisk) {
  const std::filesystem::path file = dir_.path() / "meshprobe.yaml";
  test::write_file(file, "targets: [{url: \"tcp://a.example:1\"}]\n");
  const Config config = load_config(file.string());
  EXPECT_EQ(config.source, file.string());
  EXPECT_EQ(config.targets.size(), 1u);
}

// ---- refused: the file as a whole ------------------------------------------

TEST_F(ConfigTest, RefusesAnUnreadableFileWithoutALine) {
  const std::string missing = (dir_.path() / "missing.yaml").string();
  try {
    load_config(missing);
    FAIL() << "loaded a missing file";
  } catch (const ConfigError& error) {
    EXPECT_EQ(std::string(error.what()), missing + ": cannot read: No such file or directory");
    EXPECT_EQ(error.line(), 0);
  }
}

TEST_F(ConfigTest, ReportsSourceLineAndMessageSeparately) {
  try {
    parsed("vantage: [a]\ntargets: [{url: \"tcp://a.example:1\"}]\n");
    FAIL() << "accepted a list as the vantage";
  } catch (const ConfigError& error) {
    EXPECT_EQ(error.source(), kSource);
    EXPECT_EQ(error.line(), 1);
    EXPECT_EQ(error.message(), "\"vantage\" must be a string, got a list");
  }
}

TEST_F(ConfigTest, RefusesAnEmptyFile) {
  EXPECT_THAT(refusal(""), StartsWith(at_line(1) + "the file is empty"));
}

TEST_F(ConfigTest, RefusesAFileWithOnlyComments) {
  EXPECT_THAT(refusal("# nothing yet\n"), StartsWith(at_line(1) + "the file is empty"));
}

TEST_F(ConfigTest, ReportsTheLineOfAYamlSyntaxError) {
  EXPECT_THAT(refusal(R"(
targets:
  - url: tcp://a.example:1
    labels: {team: mesh
)"),
              StartsWith(at_line(4) + "YAML syntax error: "));
}

TEST_F(ConfigTest, RefusesASecondYamlDocument) {
  EXPECT_THAT(refusal(R"(
targets: [{url: "tcp://a.example:1"}]
---
targets: [{url: "tcp://b.example:1"}]
)"),
              StartsWith(at_line(3) + "a second YAML document"));
}

TEST_F(ConfigTest, RefusesAListAtTheTopLevel) {
  EXPECT_EQ(refusal("- url: tcp://a.example:1\n"),
            at_line(1) + "the file must be a map of settings, got a list");
}

// ---- refused: keys ---------------------------------------------------------

TEST_F(ConfigTest, RefusesAnUnknownTopLevelKey) {
  EXPECT_THAT(refusal(R"(
targets: [{url: "tcp://a.example:1"}]
listen_address: 0.0.0.0:9717
)"),
              StartsWith(at_line(2) + "unknown key \"listen_address\" at the top level; "
                                      "known keys: listen, vantage"));
}

TEST_F(ConfigTest, RefusesADuplicateTopLevelKey) {
  EXPECT_THAT(refusal(R"(
vantage: node
targets: [{url: "tcp://a.example:1"}]
vantage: bastion
)"),
              StartsWith(at_line(3) + "duplicate key \"vantage\" at the top level"));
}

TEST_F(ConfigTest, RefusesANonTextKey) {
  EXPECT_THAT(refusal(R"(
targets: [{url: "tcp://a.example:1"}]
? [a, b]
: c
)"),
              StartsWith(at_line(2) + "keys at the top level must be plain text, got a list"));
}

// ---- refused: values -------------------------------------------------------

TEST_F(ConfigTest, RefusesAnInvalidVantage) {
  EXPECT_EQ(refusal(R"(
vantage: control plane
targets: [{url: "tcp://a.example:1"}]
)"),
            at_line(1) +
                "invalid vantage \"control plane\": use 1 to 63 characters: "
                "letters, digits, _ . -");
}

TEST_F(ConfigTest, RefusesAnInvalidNodeNameEnv) {
  EXPECT_THAT(refusal(R"(
node_name_env: 1NODE
targets: [{url: "tcp://a.example:1"}]
)"),
              StartsWith(at_line(1) + "invalid environment variable name \"1NODE\""));
}

TEST_F(ConfigTest, RefusesABadListenAddress) {
  EXPECT_THAT(refusal(R"(
targets: [{url: "tcp://a.example:1"}]
listen: localhost:9717
)"),
              StartsWith(at_line(2) + "invalid listen address \"localhost:9717\""));
}

TEST_F(ConfigTest, RefusesMaxConcurrencyOutOfRange) {
  EXPECT_EQ(refusal(R"(
max_concurrency: 0
targets: [{url: "tcp://a.example:1"}]
)"),
            at_line(1) +
                "\"max_concurrency\" must be a whole number from 1 to 100000, "
                "got \"0\"");
}

TEST_F(ConfigTest, RefusesMaxConcurrencyThatIsNotANumber) {
  EXPECT_THAT(refusal(R"(
max_concurrency: lots
targets: [{url: "tcp://a.example:1"}]
)"),
              StartsWith(at_line(1) + "\"max_concurrency\" must be a whole number"));
}

TEST_F(ConfigTest, RefusesAnUnknownLogFormat) {
  EXPECT_EQ(refusal(R"(
targets: [{url: "tcp://a.example:1"}]
log:
  format: text
)"),
            at_line(3) + "\"format\" must be logfmt or json, got \"text\"");
}

// ---- listen addresses ------------------------------------------------------

TEST(ParseListenAddress, ReadsIpv4AndPort) {
  const auto address = parse_listen_address("127.0.0.1:9717");
  ASSERT_TRUE(address) << address.error().message;
  EXPECT_EQ(*address, (ListenAddress{"127.0.0.1", 9717}));
}

TEST(ParseListenAddress, ReadsIpv6InBrackets) {
  const auto address = parse_listen_address("[::]:9717");
  ASSERT_TRUE(address) << address.error().message;
  EXPECT_EQ(*address, (ListenAddress{"::", 9717}));
}

TEST(ParseListenAddress, WritesTextItReadsBack) {
  EXPECT_EQ((ListenAddress{"::", 9717}).text(), "[::]:9717");
  EXPECT_EQ((ListenAddress{"0.0.0.0", 0}).text(), "0.0.0.0:0");
}

TEST(ParseListenAddress, RefusesIpv6WithoutBrackets) {
  const auto address = parse_listen_address("::1:9717");
  ASSERT_FALSE(address);
  EXPECT_THAT(address.error().message, HasSubstr("in brackets"));
}

TEST(ParseListenAddress, RefusesHostNames) { EXPECT_FALSE(parse_listen_address("localhost:9717")); }

TEST(ParseListenAddress, RefusesAMissingOrBadPort) {
  for (const char* text : {"0.0.0.0", "0.0.0.0:", "0.0.0.0:65536", "0.0.0.0:http", "0.0.0.0:-1"}) {
    EXPECT_FALSE(parse_listen_address(text)) << text;
  }
}

}  // namespace
}  // namespace meshprobe::config_test
