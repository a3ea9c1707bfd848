#include "config/config.h"

#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "probes/ca_bundle.h"
#include "test/support/test_pki.h"

namespace meshprobe {
namespace {

using namespace std::chrono_literals;
using testing::HasSubstr;
using testing::StartsWith;

constexpr const char* kSource = "meshprobe.yaml";

// Test documents are written as raw strings that start on the line after
// R"( so that line numbers in the source read as the document's own.
std::string doc(std::string_view text) {
  if (text.starts_with('\n')) text.remove_prefix(1);
  return std::string(text);
}

std::string replaced(std::string text, std::string_view from, std::string_view to) {
  for (std::size_t at = text.find(from); at != std::string::npos;
       at = text.find(from, at + to.size())) {
    text.replace(at, from.size(), to);
  }
  return text;
}

std::string read_text(const std::filesystem::path& file) {
  std::ifstream in(file);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// Sets (or unsets, with nullopt) an environment variable for one test.
class ScopedEnv {
 public:
  ScopedEnv(std::string name, const std::optional<std::string>& value)
      : name_(std::move(name)) {
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

class ConfigTest : public testing::Test {
 protected:
  ConfigTest()
      : ca_(test::TestCa::create("meshprobe config test CA")),
        ca_file_((dir_.path() / "root-cert.pem").string()) {
    test::write_file(ca_file_, ca_.cert_pem);
  }

  // `{ca_file}` in the text stands for a readable CA PEM file.
  std::string with_ca(std::string_view text) const {
    return replaced(doc(text), "{ca_file}", ca_file_);
  }

  Config parsed(std::string_view text) const {
    return parse_config(with_ca(text), kSource);
  }

  // The error message, or a test failure when the config loads.
  std::string refusal(std::string_view text) const {
    try {
      parse_config(with_ca(text), kSource);
    } catch (const ConfigError& error) {
      return error.what();
    }
    ADD_FAILURE() << "config was accepted:\n" << with_ca(text);
    return {};
  }

  static std::string at_line(int line) {
    return std::string(kSource) + ":" + std::to_string(line) + ": ";
  }

  // An example from config/examples, with the CA file it mounts in a cluster
  // replaced by one made here.
  Config example(const std::string& name) const {
    const std::filesystem::path shipped =
        std::filesystem::path(MESHPROBE_CONFIG_EXAMPLES_DIR) / name;
    const std::filesystem::path copy = dir_.path() / name;
    test::write_file(copy, replaced(read_text(shipped), "/etc/meshprobe/root-cert.pem",
                                    ca_file_));
    return load_config(copy.string());
  }

  test::TempDir dir_;
  test::TestCa ca_;
  std::string ca_file_;
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

TEST_F(ConfigTest, AppliesTheDefaultsSectionToTargetsWithoutOverrides) {
  const Config config = parsed(R"(
defaults: {interval: 1m, timeout: 10s, expiry_warning_days: 21}
targets:
  - url: tls://a.example:443
)");
  const TargetConfig& target = config.targets.at(0);
  EXPECT_EQ(target.interval, 1min);
  EXPECT_EQ(target.target->timeout, 10s);
  EXPECT_EQ(target.target->expiry_warning_days, 21);
}

TEST_F(ConfigTest, LetsATargetOverrideTheDefaults) {
  const Config config = parsed(R"(
defaults: {interval: 1m, timeout: 10s, expiry_warning_days: 21}
targets:
  - url: tls://a.example:443
    interval: 1s500ms
    timeout: 750ms
    expiry_warning_days: 0
  - url: tls://b.example:443
)");
  const TargetConfig& overridden = config.targets.at(0);
  EXPECT_EQ(overridden.interval, 1500ms);
  EXPECT_EQ(overridden.target->timeout, 750ms);
  EXPECT_EQ(overridden.target->expiry_warning_days, 0);
  const TargetConfig& plain = config.targets.at(1);
  EXPECT_EQ(plain.interval, 1min);
  EXPECT_EQ(plain.target->timeout, 10s);
}

TEST_F(ConfigTest, SharesOneLoadedBundleAmongTheTargetsNamingIt) {
  const Config config = parsed(R"(
ca_bundles:
  istio-root: {file: "{ca_file}"}
targets:
  - {url: "tls://a.example:15012", ca: istio-root}
  - {url: "grpc://b.example:15012", ca: istio-root}
)");
  ASSERT_NE(config.targets.at(0).target->ca, nullptr);
  EXPECT_EQ(config.targets.at(0).target->ca, config.targets.at(1).target->ca);
  EXPECT_EQ(config.targets.at(0).target->ca, config.ca_bundles.at(0).bundle);
}

TEST_F(ConfigTest, LoadsInlinePemBundles) {
  // A block scalar, indented below `pem:`.
  const std::string pem_block = "      " + replaced(ca_.cert_pem, "\n", "\n      ");
  const Config config = parsed(
      "ca_bundles:\n  inline-ca:\n    pem: |\n" + pem_block + "\n" +
      "targets:\n  - {url: \"tls://a.example:1\", ca: inline-ca}\n");
  const CaBundleSource& bundle = config.ca_bundles.at(0);
  EXPECT_EQ(bundle.kind, CaSourceKind::inline_pem);
  EXPECT_EQ(bundle.inline_pem, ca_.cert_pem);
  EXPECT_EQ(config.targets.at(0).target->ca, bundle.bundle);
}

TEST_F(ConfigTest, ReadsRelativeCaFilesFromTheConfigFilesDirectory) {
  const Config config = parse_config(doc(R"(
ca_bundles:
  istio-root: {file: root-cert.pem}
targets:
  - {url: "tls://a.example:1", ca: istio-root}
)"),
                                     (dir_.path() / "meshprobe.yaml").string());
  EXPECT_EQ(config.ca_bundles.at(0).file, ca_file_);
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

// ---- the shipped examples --------------------------------------------------

TEST_F(ConfigTest, LoadsTheDaemonSetExample) {
  const Config config = example("daemonset.yaml");
  EXPECT_EQ(config.vantage, "node");
  EXPECT_EQ(config.listen, (ListenAddress{"0.0.0.0", 9717}));
  ASSERT_EQ(config.targets.size(), 3u);
  EXPECT_EQ(config.targets[0].target->name, "istiod-webhook");
  EXPECT_EQ(config.targets[0].target->port, 15017);
  EXPECT_EQ(config.targets[1].target->port, 443);
  EXPECT_EQ(config.targets[2].target->kind, ProbeKind::grpc);
  for (const TargetConfig& target : config.targets) {
    EXPECT_EQ(target.target->ca, config.ca_bundles.at(0).bundle) << target.target->name;
  }
}

TEST_F(ConfigTest, LoadsTheControlPlaneExample) {
  const Config config = example("control-plane.yaml");
  EXPECT_EQ(config.vantage, "control-plane");
  ASSERT_FALSE(config.targets.empty());
  for (const TargetConfig& target : config.targets) {
    EXPECT_EQ(target.target->port, 15017) << target.target->name;
    EXPECT_EQ(target.target->server_name, "istiod.istio-system.svc") << target.target->name;
  }
}

TEST_F(ConfigTest, LoadsTheDemoExample) {
  const Config config = example("demo.yaml");
  EXPECT_EQ(config.listen, (ListenAddress{"127.0.0.1", 9717}));
  EXPECT_EQ(config.targets.size(), 4u);
}

// ---- refused: the file as a whole ------------------------------------------

TEST_F(ConfigTest, RefusesAnUnreadableFileWithoutALine) {
  const std::string missing = (dir_.path() / "missing.yaml").string();
  try {
    load_config(missing);
    FAIL() << "loaded a missing file";
  } catch (const ConfigError& error) {
    EXPECT_EQ(std::string(error.what()),
              missing + ": cannot read: No such file or directory");
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

TEST_F(ConfigTest, RefusesAConfigWithoutTargets) {
  EXPECT_THAT(refusal("vantage: node\n"), StartsWith(at_line(1) + "no targets"));
}

TEST_F(ConfigTest, RefusesAnEmptyTargetsList) {
  EXPECT_EQ(refusal("vantage: node\ntargets: []\n"),
            at_line(2) + "no targets: \"targets\" is empty");
}

TEST_F(ConfigTest, RefusesTargetsWithoutAValue) {
  EXPECT_EQ(refusal("targets:\nvantage: node\n"),
            at_line(1) + "no targets: \"targets\" is empty");
}

// ---- refused: keys ---------------------------------------------------------

TEST_F(ConfigTest, RefusesAnUnknownTargetKeyNamingTheKnownOnes) {
  EXPECT_EQ(refusal(R"(
targets:
  - url: tcp://a.example:1
    intervall: 5s
)"),
            at_line(3) +
                "unknown key \"intervall\" in target; known keys: name, url, ca, "
                "server_name, interval, timeout, expected_status, "
                "expiry_warning_days, labels, discover, via");
}

TEST_F(ConfigTest, RefusesAnUnknownTopLevelKey) {
  EXPECT_THAT(refusal(R"(
targets: [{url: "tcp://a.example:1"}]
listen_address: 0.0.0.0:9717
)"),
              StartsWith(at_line(2) + "unknown key \"listen_address\" at the top level; "
                                      "known keys: listen, vantage"));
}

TEST_F(ConfigTest, RefusesAnUnknownKeyInDefaults) {
  EXPECT_THAT(refusal(R"(
defaults:
  interval: 10s
  retries: 3
targets: [{url: "tcp://a.example:1"}]
)"),
              StartsWith(at_line(3) + "unknown key \"retries\" in \"defaults\""));
}

TEST_F(ConfigTest, RefusesADuplicateKeyInATarget) {
  EXPECT_EQ(refusal(R"(
targets:
  - url: tcp://a.example:1
    interval: 5s
    interval: 6s
)"),
            at_line(4) + "duplicate key \"interval\" in target (first at line 3)");
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

// ---- refused: types --------------------------------------------------------

TEST_F(ConfigTest, RefusesAListWhereAMapIsExpected) {
  EXPECT_EQ(refusal(R"(
defaults:
  - interval: 5s
targets: [{url: "tcp://a.example:1"}]
)"),
            at_line(2) + "\"defaults\" must be a map, got a list");
}

TEST_F(ConfigTest, RefusesAMapWhereAStringIsExpected) {
  EXPECT_EQ(refusal(R"(
targets:
  - url: {host: a.example}
)"),
            at_line(2) + "\"url\" must be a string, got a map");
}

TEST_F(ConfigTest, RefusesAKeyWithoutAValue) {
  EXPECT_EQ(refusal(R"(
targets:
  - url: tcp://a.example:1
    timeout:
)"),
            at_line(3) + "\"timeout\" must be a duration like 10s, got nothing");
}

TEST_F(ConfigTest, RefusesATargetThatIsNotAMap) {
  EXPECT_EQ(refusal(R"(
targets:
  - tcp://a.example:1
)"),
            at_line(2) +
                "each item of \"targets\" must be a map with at least \"url\", got "
                "\"tcp://a.example:1\"");
}

TEST_F(ConfigTest, RefusesTargetsThatAreNotAList) {
  EXPECT_EQ(refusal("targets: {url: tcp://a.example:1}\n"),
            at_line(1) + "\"targets\" must be a list, got a map");
}

// ---- refused: durations ----------------------------------------------------

TEST_F(ConfigTest, RefusesABadDurationWithParseDurationsMessage) {
  EXPECT_EQ(refusal(R"(
targets:
  - url: tcp://a.example:1
    interval: 10x
)"),
            at_line(3) + "interval: invalid duration \"10x\": unknown unit \"x\" "
                         "(use ms, s, m, h)");
}

TEST_F(ConfigTest, RefusesADurationWithoutAUnit) {
  EXPECT_THAT(refusal(R"(
defaults:
  timeout: 3
targets: [{url: "tcp://a.example:1"}]
)"),
              StartsWith(at_line(2) + "timeout: invalid duration \"3\": missing unit"));
}

TEST_F(ConfigTest, RefusesAZeroDuration) {
  EXPECT_EQ(refusal(R"(
defaults:
  interval: 0s
targets: [{url: "tcp://a.example:1"}]
)"),
            at_line(2) + "\"interval\" must be greater than 0");
}

TEST_F(ConfigTest, RefusesANegativeDuration) {
  EXPECT_EQ(refusal(R"(
targets:
  - url: tcp://a.example:1
    timeout: -1s
)"),
            at_line(3) + "timeout: invalid duration \"-1s\": must not be negative");
}

TEST_F(ConfigTest, RefusesATargetTimeoutLongerThanItsInterval) {
  EXPECT_EQ(refusal(R"(
targets:
  - name: slow
    url: tcp://a.example:1
    interval: 2s
    timeout: 5s
)"),
            at_line(5) +
                "target \"slow\": timeout 5s is longer than its interval 2s; a probe "
                "must finish before the next one is due");
}

TEST_F(ConfigTest, RefusesATargetIntervalShorterThanTheDefaultTimeout) {
  EXPECT_THAT(refusal(R"(
targets:
  - name: fast
    url: tcp://a.example:1
    interval: 1s
)"),
              StartsWith(at_line(4) + "target \"fast\": timeout 3s is longer than its "
                                      "interval 1s"));
}

TEST_F(ConfigTest, RefusesADefaultTimeoutLongerThanTheDefaultInterval) {
  EXPECT_THAT(refusal(R"(
defaults:
  interval: 5s
  timeout: 6s
targets: [{url: "tcp://a.example:1"}]
)"),
              StartsWith(at_line(3) + "default timeout 6s is longer than the default "
                                      "interval 5s"));
}

// ---- refused: values -------------------------------------------------------

TEST_F(ConfigTest, RefusesABadUrlWithParseTargetUrlsMessage) {
  EXPECT_EQ(refusal(R"(
targets:
  - name: broken
    url: ftp://a.example:21
)"),
            at_line(3) + "invalid target URL \"ftp://a.example:21\": unknown scheme "
                         "\"ftp\" (use tcp, tls, https or grpc)");
}

TEST_F(ConfigTest, RefusesATargetWithoutAUrl) {
  EXPECT_EQ(refusal(R"(
targets:
  - url: tcp://a.example:1
  - name: nameless
)"),
            at_line(3) + "target has no \"url\"");
}

TEST_F(ConfigTest, RefusesAnInvalidTargetName) {
  EXPECT_THAT(refusal(R"(
targets:
  - name: "istiod webhook"
    url: tcp://a.example:1
)"),
              StartsWith(at_line(2) + "invalid target name \"istiod webhook\""));
}

TEST_F(ConfigTest, RefusesATooLongTargetName) {
  EXPECT_THAT(refusal("targets:\n  - name: " + std::string(129, 'a') +
                      "\n    url: tcp://a.example:1\n"),
              StartsWith(at_line(2) + "invalid target name"));
}

TEST_F(ConfigTest, RefusesAnInvalidVantage) {
  EXPECT_EQ(refusal(R"(
vantage: control plane
targets: [{url: "tcp://a.example:1"}]
)"),
            at_line(1) + "invalid vantage \"control plane\": use 1 to 63 characters: "
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
            at_line(1) + "\"max_concurrency\" must be a whole number from 1 to 100000, "
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

TEST_F(ConfigTest, RefusesAnExpectedStatusOutOfRange) {
  EXPECT_EQ(refusal(R"(
targets:
  - url: https://a.example/ready
    expected_status: 600
)"),
            at_line(3) + "\"expected_status\" must be a whole number from 100 to 599, "
                         "got \"600\"");
}

TEST_F(ConfigTest, RefusesAnExpectedStatusOnANonHttpsTarget) {
  EXPECT_EQ(refusal(R"(
targets:
  - url: grpc://a.example:15012
    expected_status: 200
)"),
            at_line(3) + "\"expected_status\" applies only to https targets, and "
                         "\"grpc://a.example:15012\" is grpc");
}

TEST_F(ConfigTest, RefusesTlsSettingsOnATcpTarget) {
  EXPECT_EQ(refusal(R"(
targets:
  - url: tcp://a.example:1
    server_name: a.example
)"),
            at_line(3) + "\"server_name\" applies only to tls, https and grpc targets, "
                         "and \"tcp://a.example:1\" is tcp");
}

TEST_F(ConfigTest, RefusesAnExpiryWarningOutOfRange) {
  EXPECT_THAT(refusal(R"(
defaults: {expiry_warning_days: -1}
targets: [{url: "tcp://a.example:1"}]
)"),
              StartsWith(at_line(1) + "\"expiry_warning_days\" must be a whole number "
                                      "from 0 to 3650"));
}

TEST_F(ConfigTest, RefusesDuplicateTargetNames) {
  EXPECT_EQ(refusal(R"(
targets:
  - name: istiod
    url: tcp://a.example:1
  - name: istiod
    url: tcp://b.example:1
)"),
            at_line(4) + "duplicate target name \"istiod\" (first at line 2); give each "
                         "target a distinct \"name\"");
}

TEST_F(ConfigTest, RefusesTwoUnnamedTargetsWithTheSameUrl) {
  EXPECT_THAT(refusal(R"(
targets:
  - url: tcp://a.example:1
  - url: tcp://a.example:1
)"),
              StartsWith(at_line(3) + "duplicate target name \"tcp://a.example:1\""));
}

// ---- refused: labels -------------------------------------------------------

TEST_F(ConfigTest, RefusesMoreThanEightLabels) {
  EXPECT_EQ(refusal(R"(
targets:
  - url: tcp://a.example:1
    labels: {a: "1", b: "2", c: "3", d: "4", e: "5", f: "6", g: "7", h: "8", i: "9"}
)"),
            at_line(3) + "at most 8 labels per target, got 9");
}

TEST_F(ConfigTest, RefusesAnInvalidLabelName) {
  EXPECT_THAT(refusal(R"(
targets:
  - url: tcp://a.example:1
    labels:
      team-name: mesh
)"),
              StartsWith(at_line(4) + "invalid label name \"team-name\""));
}

TEST_F(ConfigTest, RefusesALabelNameMeshprobeSetsItself) {
  EXPECT_THAT(refusal(R"(
targets:
  - url: tcp://a.example:1
    labels: {vantage: mine}
)"),
              StartsWith(at_line(3) + "label \"vantage\" is reserved"));
}

TEST_F(ConfigTest, RefusesALabelValueThatIsNotAString) {
  EXPECT_EQ(refusal(R"(
targets:
  - url: tcp://a.example:1
    labels:
      team: [mesh]
)"),
            at_line(4) + "\"team\" must be a string, got a list");
}

// ---- refused: CA bundles ---------------------------------------------------

TEST_F(ConfigTest, RefusesATargetNamingAnUndefinedBundle) {
  EXPECT_EQ(refusal(R"(
ca_bundles:
  istio-root: {file: "{ca_file}"}
targets:
  - name: x
    url: tls://a.example:1
    ca: y
)"),
            at_line(6) + "target \"x\" names CA bundle \"y\", which is not defined in "
                         "ca_bundles");
}

TEST_F(ConfigTest, RefusesDuplicateBundleNames) {
  EXPECT_EQ(refusal(R"(
ca_bundles:
  istio-root: {file: "{ca_file}"}
  istio-root: {system: true}
targets: [{url: "tcp://a.example:1"}]
)"),
            at_line(3) + "duplicate CA bundle name \"istio-root\" in \"ca_bundles\" "
                         "(first at line 2)");
}

TEST_F(ConfigTest, RefusesAMissingCaFileAtTheLineOfItsPath) {
  const std::string missing = (dir_.path() / "absent.pem").string();
  EXPECT_EQ(refusal("ca_bundles:\n  istio-root:\n    file: " + missing +
                    "\ntargets: [{url: \"tcp://a.example:1\"}]\n"),
            at_line(3) + missing + ": cannot open CA bundle file: No such file or directory");
}

TEST(ConfigErrorTest, OnlyAShortageOfTheMachineIsTransient) {
  EXPECT_TRUE(ConfigError("c.yaml", 0, "cannot read: Too many open files", EMFILE).transient());
  EXPECT_TRUE(ConfigError("c.yaml", 0, "cannot read: Cannot allocate memory", ENOMEM).transient());
  EXPECT_FALSE(ConfigError("c.yaml", 0, "cannot read: No such file or directory", ENOENT)
                   .transient());
  EXPECT_FALSE(ConfigError("c.yaml", 3, "targets: not a sequence").transient());
}

// At the CA bundle: parse_config passes the errno on (the stress test shows
// it end to end), and ConfigError::transient reads it (the test above).
TEST_F(ConfigTest, ACaFileUnreadableForWantOfDescriptorsCarriesItsErrno) {
#ifdef MESHPROBE_UBSAN_VPTR
  GTEST_SKIP() << "UBSan's vptr check misreports member calls when no descriptor is free";
#endif
  const std::string pem = (dir_.path() / "ca.pem").string();
  test::write_file(pem, "unused");
  // Every descriptor taken: the CA file cannot be opened, through no fault
  // of it. A low soft limit keeps the hogging short.
  rlimit saved{};
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &saved), 0);
  rlimit low = saved;
  low.rlim_cur = std::min<rlim_t>(saved.rlim_cur, 128);
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &low), 0);
  std::vector<int> taken;
  for (int fd; (fd = ::open("/dev/null", O_RDONLY)) >= 0;) taken.push_back(fd);
  const auto loaded = CaBundle::from_file(pem);
  for (int fd : taken) ::close(fd);
  ::setrlimit(RLIMIT_NOFILE, &saved);
  ASSERT_FALSE(loaded);
  EXPECT_EQ(loaded.error().system_error, EMFILE);
  EXPECT_THAT(loaded.error().message, testing::HasSubstr("Too many open files"));
}

TEST_F(ConfigTest, RefusesACaFileWithoutCertificates) {
  const std::string not_pem = (dir_.path() / "not.pem").string();
  test::write_file(not_pem, "hello\n");
  EXPECT_EQ(refusal("ca_bundles:\n  istio-root:\n    file: " + not_pem +
                    "\ntargets: [{url: \"tcp://a.example:1\"}]\n"),
            at_line(3) + not_pem + ": no PEM certificate found");
}

TEST_F(ConfigTest, RefusesInlinePemWithoutCertificates) {
  EXPECT_THAT(refusal(R"(
ca_bundles:
  inline-ca: {pem: "not a certificate"}
targets: [{url: "tcp://a.example:1"}]
)"),
              StartsWith(at_line(2) + "CA bundle \"inline-ca\" (inline pem): "));
}

TEST_F(ConfigTest, RefusesABundleWithTwoSources) {
  EXPECT_EQ(refusal(R"(
ca_bundles:
  istio-root: {file: "{ca_file}", system: true}
targets: [{url: "tcp://a.example:1"}]
)"),
            at_line(2) + "CA bundle \"istio-root\" needs exactly one of \"file\", \"pem\", "
                         "\"system: true\", \"mutating_webhook\", \"validating_webhook\" or "
                         "\"configmap\"");
}

TEST_F(ConfigTest, RefusesABundleWithNoSource) {
  EXPECT_THAT(refusal(R"(
ca_bundles:
  istio-root: {}
targets: [{url: "tcp://a.example:1"}]
)"),
              StartsWith(at_line(2) + "CA bundle \"istio-root\" needs exactly one of"));
}

TEST_F(ConfigTest, RefusesSystemFalse) {
  EXPECT_THAT(refusal(R"(
ca_bundles:
  os: {system: false}
targets: [{url: "tcp://a.example:1"}]
)"),
              StartsWith(at_line(2) + "\"system\" can only be true"));
}

TEST_F(ConfigTest, RefusesAnInvalidBundleName) {
  EXPECT_THAT(refusal(R"(
ca_bundles:
  "istio root": {system: true}
targets: [{url: "tcp://a.example:1"}]
)"),
              StartsWith(at_line(2) + "invalid CA bundle name \"istio root\""));
}

// ---- Kubernetes mode -------------------------------------------------------

TEST_F(ConfigTest, LoadsTheKubernetesSection) {
  const Config config = parsed(R"(
kubernetes:
  kubeconfig: kube/config
  context: prod
  refresh: 2m
  request_timeout: 5s
  hygiene: false
  istio_namespace: istio-mesh
targets: [{url: "tcp://a.example:1"}]
)");
  EXPECT_TRUE(config.kubernetes.enabled);
  EXPECT_EQ(config.kubernetes.kubeconfig, "kube/config");  // relative to meshprobe.yaml's directory
  EXPECT_EQ(config.kubernetes.context, "prod");
  EXPECT_EQ(config.kubernetes.refresh, 120s);
  EXPECT_EQ(config.kubernetes.request_timeout, 5s);
  EXPECT_FALSE(config.kubernetes.hygiene);
  EXPECT_EQ(config.kubernetes.istio_namespace, "istio-mesh");
  EXPECT_EQ(config.kubernetes.line, 1);
}

TEST_F(ConfigTest, TakesTheKubeconfigRelativeToTheConfigFile) {
  const std::filesystem::path file = dir_.path() / "meshprobe.yaml";
  test::write_file(file, "kubernetes: {kubeconfig: kubeconfig.yaml}\n"
                         "targets: [{url: \"tcp://a.example:1\"}]\n");
  EXPECT_EQ(load_config(file.string()).kubernetes.kubeconfig,
            (dir_.path() / "kubeconfig.yaml").string());
}

TEST_F(ConfigTest, AnEmptyKubernetesSectionMeansInClusterDefaults) {
  const Config config = parsed(R"(
kubernetes:
targets: [{url: "tcp://a.example:1"}]
)");
  EXPECT_TRUE(config.kubernetes.enabled);
  EXPECT_TRUE(config.kubernetes.kubeconfig.empty());
  EXPECT_EQ(config.kubernetes.refresh, 60s);
  EXPECT_TRUE(config.kubernetes.hygiene);
  EXPECT_EQ(config.kubernetes.istio_namespace, "istio-system");
}

TEST_F(ConfigTest, WithoutKubernetesKeysKubernetesModeIsOff) {
  EXPECT_FALSE(parsed("targets: [{url: \"tcp://a.example:1\"}]\n").kubernetes.enabled);
}

TEST_F(ConfigTest, LoadsWebhookAndConfigMapSourcesWithoutContactingTheCluster) {
  const Config config = parsed(R"(
ca_bundles:
  injector: {mutating_webhook: istio-sidecar-injector, webhook: rev.namespace.sidecar-injector.istio.io}
  validator: {validating_webhook: istio-validator-istio-system}
  mesh-root: {configmap: istio-system/istio-ca-root-cert, key: root-cert.pem}
targets: [{url: "tcp://a.example:1"}]
)");
  ASSERT_EQ(config.ca_bundles.size(), 3u);
  EXPECT_EQ(config.ca_bundles[0].kind, CaSourceKind::mutating_webhook);
  EXPECT_EQ(config.ca_bundles[0].object_name, "istio-sidecar-injector");
  EXPECT_EQ(config.ca_bundles[0].webhook, "rev.namespace.sidecar-injector.istio.io");
  EXPECT_EQ(config.ca_bundles[0].bundle, nullptr);  // read from the API at run time
  EXPECT_EQ(config.ca_bundles[1].kind, CaSourceKind::validating_webhook);
  EXPECT_TRUE(config.ca_bundles[1].webhook.empty());  // the first entry
  EXPECT_EQ(config.ca_bundles[2].kind, CaSourceKind::configmap);
  EXPECT_EQ(config.ca_bundles[2].object_namespace, "istio-system");
  EXPECT_EQ(config.ca_bundles[2].object_name, "istio-ca-root-cert");
  EXPECT_EQ(config.ca_bundles[2].key, "root-cert.pem");
  EXPECT_TRUE(config.kubernetes.enabled);  // a Kubernetes source needs the API
}

TEST_F(ConfigTest, AConfigMapSourcesKeyDefaultsToRootCertPem) {
  const Config config = parsed(R"(
ca_bundles:
  mesh-root: {configmap: istio-system/istio-ca-root-cert}
targets: [{url: "tcp://a.example:1"}]
)");
  EXPECT_EQ(config.ca_bundles[0].key, "root-cert.pem");
}

TEST_F(ConfigTest, ATargetNamingAKubernetesBundleWaitsForTheApi) {
  const Config config = parsed(R"(
ca_bundles:
  injector: {mutating_webhook: istio-sidecar-injector}
targets:
  - url: https://istiod.istio-system.svc:443/ready
    ca: injector
)");
  const TargetConfig& target = config.targets[0];
  EXPECT_TRUE(target.ca_from_kubernetes);
  EXPECT_EQ(target.target->ca, nullptr);
  EXPECT_TRUE(target.needs_kubernetes());
  EXPECT_TRUE(config.kubernetes.enabled);  // in-cluster, without a kubernetes section
}

TEST_F(ConfigTest, LoadsDiscoverAndVia) {
  const Config config = parsed(R"(
targets:
  - name: pods
    url: https://istiod.istio-system.svc.cluster.local:443/inject
    discover: endpoints
  - name: revisions
    url: grpc://istiod.istio-system.svc:15012
    discover: revisions
  - name: from-apiserver
    url: https://istiod.istio-system.svc:443/ready
    via: apiserver
  - name: direct
    url: tcp://10.0.0.1:15017
    via: direct
)");
  EXPECT_EQ(config.targets[0].discover, Discovery::endpoints);
  EXPECT_EQ(config.targets[1].discover, Discovery::revisions);
  EXPECT_EQ(config.targets[2].via, Via::apiserver);
  EXPECT_EQ(config.targets[3].via, Via::direct);
  EXPECT_FALSE(config.targets[3].needs_kubernetes());
  EXPECT_TRUE(config.kubernetes.enabled);
}

TEST_F(ConfigTest, RemembersAnExplicitServerName) {
  const Config config = parsed(R"(
targets:
  - url: https://istiod.istio-system.svc.cluster.local:443/ready
    discover: endpoints
    server_name: istiod.istio-system.svc.cluster.local
  - url: https://istiod.istio-system.svc:15017/ready
)");
  EXPECT_TRUE(config.targets[0].explicit_server_name);
  EXPECT_FALSE(config.targets[1].explicit_server_name);
}

TEST_F(ConfigTest, RefusesAnUnknownKubernetesKey) {
  EXPECT_THAT(refusal(R"(
kubernetes:
  kubeconfig: /root/.kube/config
  namespace: istio-system
targets: [{url: "tcp://a.example:1"}]
)"),
              StartsWith(at_line(3) + "unknown key \"namespace\" in \"kubernetes\"; known keys: "
                                      "kubeconfig, context, refresh"));
}

TEST_F(ConfigTest, RefusesARefreshUnderOneSecond) {
  EXPECT_THAT(refusal(R"(
kubernetes:
  refresh: 500ms
targets: [{url: "tcp://a.example:1"}]
)"),
              StartsWith(at_line(2) + "\"refresh\" must be at least 1s"));
}

TEST_F(ConfigTest, RefusesAnInvalidIstioNamespace) {
  EXPECT_THAT(refusal(R"(
kubernetes: {istio_namespace: Istio_System}
targets: [{url: "tcp://a.example:1"}]
)"),
              StartsWith(at_line(1) + "invalid namespace \"Istio_System\""));
}

TEST_F(ConfigTest, RefusesAConfigMapWithoutItsNamespace) {
  EXPECT_EQ(refusal(R"(
ca_bundles:
  mesh-root:
    configmap: istio-ca-root-cert
targets: [{url: "tcp://a.example:1"}]
)"),
            at_line(3) + "\"configmap\" must be NAMESPACE/NAME, e.g. "
                         "istio-system/istio-ca-root-cert, got \"istio-ca-root-cert\"");
}

TEST_F(ConfigTest, RefusesAnInvalidWebhookConfigurationName) {
  EXPECT_THAT(refusal(R"(
ca_bundles:
  injector:
    mutating_webhook: Istio-Sidecar-Injector
targets: [{url: "tcp://a.example:1"}]
)"),
              StartsWith(at_line(3) + "invalid webhook configuration name "
                                      "\"Istio-Sidecar-Injector\""));
}

TEST_F(ConfigTest, RefusesAWebhookEntryWithoutAWebhookConfiguration) {
  EXPECT_THAT(refusal(R"(
ca_bundles:
  mesh-root:
    configmap: istio-system/istio-ca-root-cert
    webhook: rev.namespace.sidecar-injector.istio.io
targets: [{url: "tcp://a.example:1"}]
)"),
              StartsWith(at_line(4) + "\"webhook\" names an entry of a webhook configuration"));
}

TEST_F(ConfigTest, RefusesAKeyWithoutAConfigMap) {
  EXPECT_THAT(refusal(R"(
ca_bundles:
  injector:
    mutating_webhook: istio-sidecar-injector
    key: root-cert.pem
targets: [{url: "tcp://a.example:1"}]
)"),
              StartsWith(at_line(4) + "\"key\" names a ConfigMap key"));
}

TEST_F(ConfigTest, RefusesKubernetesOnlyKeysOnAFileBundle) {
  EXPECT_THAT(refusal(R"(
ca_bundles:
  root:
    file: "{ca_file}"
    key: root-cert.pem
targets: [{url: "tcp://a.example:1"}]
)"),
              StartsWith(at_line(4) + "\"key\""));
}

TEST_F(ConfigTest, RefusesAFileAndAKubernetesSourceTogether) {
  EXPECT_THAT(refusal(R"(
ca_bundles:
  root: {file: "{ca_file}", configmap: istio-system/istio-ca-root-cert}
targets: [{url: "tcp://a.example:1"}]
)"),
              StartsWith(at_line(2) + "CA bundle \"root\" needs exactly one of"));
}

TEST_F(ConfigTest, RefusesDiscoveryOnAHostThatIsNoService) {
  EXPECT_EQ(refusal(R"(
targets:
  - url: https://10.0.0.1:443/ready
    discover: endpoints
)"),
            at_line(3) + "\"discover: endpoints\" needs a Service host NAME.NAMESPACE.svc (or "
                         "NAME.NAMESPACE.svc.cluster.local), and "
                         "\"https://10.0.0.1:443/ready\" has \"10.0.0.1\"");
}

TEST_F(ConfigTest, RefusesAnUnknownDiscovery) {
  EXPECT_THAT(refusal(R"(
targets:
  - url: https://istiod.istio-system.svc:443/ready
    discover: pods
)"),
              StartsWith(at_line(3) + "\"discover\" must be endpoints or revisions, got \"pods\""));
}

TEST_F(ConfigTest, RefusesTheApiServerVantageForANonHttpsTarget) {
  EXPECT_THAT(refusal(R"(
targets:
  - url: grpc://istiod.istio-system.svc:15012
    via: apiserver
)"),
              StartsWith(at_line(3) + "\"via: apiserver\" needs an https:// target"));
}

TEST_F(ConfigTest, RefusesTrustSettingsWithTheApiServerVantage) {
  EXPECT_THAT(refusal(R"(
ca_bundles:
  injector: {mutating_webhook: istio-sidecar-injector}
targets:
  - url: https://istiod.istio-system.svc:443/ready
    via: apiserver
    ca: injector
)"),
              StartsWith(at_line(6) + "\"ca\" does not apply with \"via: apiserver\""));
}

TEST_F(ConfigTest, RefusesAnUnknownVia) {
  EXPECT_THAT(refusal(R"(
targets:
  - url: https://istiod.istio-system.svc:443/ready
    via: kubelet
)"),
              StartsWith(at_line(3) + "\"via\" must be apiserver or direct, got \"kubelet\""));
}

TEST_F(ConfigTest, LoadsTheKubernetesExample) {
  const Config config = example("kubernetes.yaml");
  EXPECT_TRUE(config.kubernetes.enabled);
  EXPECT_TRUE(config.kubernetes.kubeconfig.empty());  // in-cluster
  ASSERT_FALSE(config.targets.empty());
  bool discovers = false;
  bool via_apiserver = false;
  for (const TargetConfig& target : config.targets) {
    discovers = discovers || target.discover != Discovery::none;
    via_apiserver = via_apiserver || target.via == Via::apiserver;
  }
  EXPECT_TRUE(discovers);
  EXPECT_TRUE(via_apiserver);
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

TEST(ParseListenAddress, RefusesHostNames) {
  EXPECT_FALSE(parse_listen_address("localhost:9717"));
}

TEST(ParseListenAddress, RefusesAMissingOrBadPort) {
  for (const char* text : {"0.0.0.0", "0.0.0.0:", "0.0.0.0:65536", "0.0.0.0:http",
                           "0.0.0.0:-1"}) {
    EXPECT_FALSE(parse_listen_address(text)) << text;
  }
}

}  // namespace
}  // namespace meshprobe
