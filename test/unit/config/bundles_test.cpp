// `ca_bundles` from local sources (a file, inline PEM, the system store):
// loaded once and shared by the targets naming them, and each refusal with
// its line, including a CA file unreadable for want of descriptors.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <string>
#include <vector>

#include "config/config.h"
#include "config_fixture.h"
#include "probes/ca_bundle.h"

namespace meshprobe::config_test {
namespace {

using testing::StartsWith;

// ---- loaded ----------------------------------------------------------------

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
  const Config config = parsed("ca_bundles:\n  inline-ca:\n    pem: |\n" + pem_block + "\n" +
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
            at_line(6) +
                "target \"x\" names CA bundle \"y\", which is not defined in "
                "ca_bundles");
}

TEST_F(ConfigTest, RefusesDuplicateBundleNames) {
  EXPECT_EQ(refusal(R"(
ca_bundles:
  istio-root: {file: "{ca_file}"}
  istio-root: {system: true}
targets: [{url: "tcp://a.example:1"}]
)"),
            at_line(3) +
                "duplicate CA bundle name \"istio-root\" in \"ca_bundles\" "
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
  EXPECT_FALSE(
      ConfigError("c.yaml", 0, "cannot read: No such file or directory", ENOENT).transient());
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
            at_line(2) +
                "CA bundle \"istio-root\" needs exactly one of \"file\", \"pem\", "
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

}  // namespace
}  // namespace meshprobe::config_test
