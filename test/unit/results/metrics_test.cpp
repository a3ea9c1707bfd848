#include "agent/results/metrics.h"

#include <gtest/gtest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "agent/results/webhook_verdicts.h"
#include "meshprobe_version.h"

namespace meshprobe {
namespace {

using namespace std::chrono_literals;
using Labels = std::map<std::string, std::string>;

// One sample line of the text exposition, label values unescaped.
struct Sample {
  std::string name;
  Labels labels;
  double value = 0;
};

// Reads a quoted label value starting after the opening quote; undoes the
// exposition format's escapes (\\, \", \n).
std::string read_label_value(const std::string& line, std::size_t& pos) {
  std::string value;
  while (pos < line.size() && line[pos] != '"') {
    char c = line[pos++];
    if (c == '\\' && pos < line.size()) {
      const char escaped = line[pos++];
      c = escaped == 'n' ? '\n' : escaped;
    }
    value += c;
  }
  ++pos;  // the closing quote
  return value;
}

Sample parse_sample(const std::string& line) {
  Sample sample;
  std::size_t pos = line.find_first_of("{ ");
  sample.name = line.substr(0, pos);
  if (line[pos] == '{') {
    ++pos;
    while (line[pos] != '}') {
      const std::size_t eq = line.find('=', pos);
      const std::string label = line.substr(pos, eq - pos);
      pos = eq + 2;  // past ="
      sample.labels[label] = read_label_value(line, pos);
      if (line[pos] == ',') ++pos;
    }
    ++pos;
  }
  sample.value = std::stod(line.substr(pos + 1));
  return sample;
}

std::vector<Sample> parse_exposition(const std::string& text) {
  std::vector<Sample> samples;
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.empty() || line[0] == '#') continue;
    samples.push_back(parse_sample(line));
  }
  return samples;
}

// Samples of `name` whose labels include every pair of `labels`.
std::vector<Sample> find(const std::string& text, const std::string& name,
                         const Labels& labels = {}) {
  std::vector<Sample> found;
  for (Sample& sample : parse_exposition(text)) {
    if (sample.name != name) continue;
    bool matches = true;
    for (const auto& [label, value] : labels) {
      auto it = sample.labels.find(label);
      matches = matches && it != sample.labels.end() && it->second == value;
    }
    if (matches) found.push_back(std::move(sample));
  }
  return found;
}

std::optional<double> value_of(const std::string& text, const std::string& name,
                               const Labels& labels) {
  const std::vector<Sample> found = find(text, name, labels);
  if (found.size() != 1) return std::nullopt;
  return found.front().value;
}

std::shared_ptr<const Target> make_target(const std::string& name, const std::string& url,
                                          ProbeKind kind) {
  auto target = std::make_shared<Target>();
  target->name = name;
  target->url = url;
  target->kind = kind;
  return target;
}

const WallClock::time_point kProbeStart = WallClock::time_point{} + 1'700'000'000s;

ProbeResult ok_result(const Target& target, const std::string& address) {
  ProbeResult result;
  result.target = target.name;
  result.url = target.url;
  result.kind = target.kind;
  result.address = address;
  result.success = true;
  result.diagnosis = Diagnosis::ok;
  result.started_at = kProbeStart;
  result.duration = 12ms;
  result.phases.connect = 2ms;
  if (uses_tls(target.kind)) {
    result.phases.tls = 8ms;
    TlsInfo tls;
    tls.version = "TLSv1.3";
    tls.verified = true;
    tls.earliest_expiry = kProbeStart + 24h * 30;
    result.tls = tls;
  }
  if (target.kind == ProbeKind::https || target.kind == ProbeKind::grpc) result.phases.app = 2ms;
  if (target.kind == ProbeKind::https) result.http_status = 200;
  return result;
}

ProbeResult failed_result(const Target& target, const std::string& address, Diagnosis diagnosis,
                          Phase failed_phase) {
  ProbeResult result;
  result.target = target.name;
  result.url = target.url;
  result.kind = target.kind;
  result.address = address;
  result.success = false;
  result.diagnosis = diagnosis;
  result.failed_phase = failed_phase;
  result.message = "connect to " + address + " timed out after 3s";  // never a label
  result.started_at = kProbeStart;
  result.duration = 3s;
  if (failed_phase == Phase::resolve) {
    result.phases.resolve = 3s;
  } else {
    result.phases.connect = 3s;
  }
  return result;
}

class MetricsTest : public ::testing::Test {
 protected:
  // Puts `target` in the store's target set (replacing one of the same name).
  void configure(const std::shared_ptr<const Target>& target) {
    auto same_name = [&](const TargetSpec& spec) { return spec.target->name == target->name; };
    auto it = std::find_if(specs_.begin(), specs_.end(), same_name);
    if (it == specs_.end()) {
      specs_.push_back({target, 10s});
    } else {
      it->target = target;
    }
    store_.set_targets(specs_);
  }

  void forget(const std::string& name) {
    std::erase_if(specs_, [&](const TargetSpec& spec) { return spec.target->name == name; });
    store_.set_targets(specs_);
  }

  void round(const std::shared_ptr<const Target>& target, const std::vector<ProbeResult>& results) {
    configure(target);
    metrics_.observe_round(results);
    store_.record_round(target->name, results);
  }

  std::string exposition() const { return metrics_.serialize(store_); }

  Metrics metrics_{"node", "worker-1"};
  ResultsStore store_;
  std::vector<TargetSpec> specs_;
  std::shared_ptr<const Target> webhook_ = make_target(
      "istiod-webhook", "https://istiod.istio-system.svc:15017/ready", ProbeKind::https);
  std::shared_ptr<const Target> xds_ =
      make_target("istiod-xds", "tcp://istiod.istio-system.svc:15012", ProbeKind::tcp);
};

TEST_F(MetricsTest, RoundExposesProbeSuccessWithEveryLabel) {
  round(webhook_, {ok_result(*webhook_, "10.0.0.1")});

  const std::string text = exposition();

  const Labels labels = {{"target", "istiod-webhook"},
                         {"url", "https://istiod.istio-system.svc:15017/ready"},
                         {"vantage", "node"},
                         {"node", "worker-1"},
                         {"address", "10.0.0.1"}};
  const std::vector<Sample> samples = find(text, "probe_success", labels);
  ASSERT_EQ(samples.size(), 1u) << text;
  EXPECT_EQ(samples.front().labels, labels);
  EXPECT_EQ(samples.front().value, 1);
  EXPECT_NE(text.find("address=\"10.0.0.1\"} 1\n"), std::string::npos) << text;
}

TEST_F(MetricsTest, RoundExposesDurationsStatusAndCertificate) {
  round(webhook_, {ok_result(*webhook_, "10.0.0.1")});

  const std::string text = exposition();
  const Labels address = {{"target", "istiod-webhook"}, {"address", "10.0.0.1"}};
  EXPECT_EQ(value_of(text, "probe_duration_seconds", address), 0.012);
  EXPECT_EQ(value_of(text, "probe_http_status_code", address), 200);
  EXPECT_EQ(value_of(text, "probe_ssl_earliest_cert_expiry", address), 1'700'000'000 + 30 * 86400);
  EXPECT_EQ(value_of(text, "meshprobe_cert_remaining_seconds", address), 30 * 86400);
  Labels tls_phase = address;
  tls_phase["phase"] = "tls";
  EXPECT_EQ(value_of(text, "meshprobe_phase_duration_seconds", tls_phase), 0.008);
  EXPECT_EQ(value_of(text, "meshprobe_probe_duration_seconds_count", {{"kind", "https"}}), 1);
}

TEST_F(MetricsTest, ScrapeInPartsShowsTheStoreAsItWasWhenItStarted) {
  round(webhook_, {ok_result(*webhook_, "10.0.0.1")});
  MetricsScrape scrape = metrics_.scrape(store_);
  std::string text;
  scrape.next(text, 1);  // the first line or so, then the store moves on
  round(webhook_, {failed_result(*webhook_, "10.0.0.1", Diagnosis::tcp_timeout, Phase::connect)});
  forget("istiod-webhook");
  int parts = 1;
  while (!scrape.done()) {
    scrape.next(text, 64);
    ++parts;
  }

  // The same text at once, from a store in the state the scrape started on.
  Metrics metrics{"node", "worker-1"};
  ResultsStore store;
  store.set_targets({{webhook_, 10s}});
  metrics.observe_round({ok_result(*webhook_, "10.0.0.1")});
  store.record_round(webhook_->name, {ok_result(*webhook_, "10.0.0.1")});
  EXPECT_GT(parts, 10);
  EXPECT_EQ(text, metrics.serialize(store));
}

TEST_F(MetricsTest, FailingRoundFlipsSuccessAndMovesDiagnosis) {
  round(webhook_, {ok_result(*webhook_, "10.0.0.1")});
  round(webhook_, {failed_result(*webhook_, "10.0.0.1", Diagnosis::tcp_timeout, Phase::connect)});

  const std::string text = exposition();
  const Labels address = {{"target", "istiod-webhook"}, {"address", "10.0.0.1"}};
  EXPECT_EQ(value_of(text, "probe_success", address), 0);
  const std::vector<Sample> diagnoses = find(text, "meshprobe_diagnosis", address);
  ASSERT_EQ(diagnoses.size(), 1u) << text;
  EXPECT_EQ(diagnoses.front().labels.at("diagnosis"), "tcp_timeout");
  EXPECT_EQ(diagnoses.front().value, 1);
  EXPECT_EQ(value_of(text, "meshprobe_consecutive_failures", address), 1);
  EXPECT_EQ(value_of(text, "meshprobe_transitions_total", address), 1);
}

TEST_F(MetricsTest, NegativeTestSucceedsOnItsBlockAndShowsTheObservedDiagnosis) {
  Target blocked = *xds_;
  blocked.expect = kBlocked;
  ProbeResult result = failed_result(blocked, "10.0.0.1", Diagnosis::tcp_timeout, Phase::connect);
  result.expect = kBlocked;
  apply_expectation(result);
  round(std::make_shared<const Target>(blocked), {result});

  const std::string text = exposition();
  const Labels address = {{"target", "istiod-xds"}, {"address", "10.0.0.1"}};
  EXPECT_EQ(value_of(text, "probe_success", address), 1);
  const std::vector<Sample> diagnoses = find(text, "meshprobe_diagnosis", address);
  ASSERT_EQ(diagnoses.size(), 1u) << text;
  EXPECT_EQ(diagnoses.front().labels.at("diagnosis"), "ok");
  const std::vector<Sample> observed = find(text, "meshprobe_observed_diagnosis", address);
  ASSERT_EQ(observed.size(), 1u) << text;
  EXPECT_EQ(observed.front().labels.at("diagnosis"), "tcp_timeout");
}

TEST_F(MetricsTest, TargetWithoutExpectationHasNoObservedDiagnosis) {
  round(xds_, {failed_result(*xds_, "10.0.0.1", Diagnosis::tcp_timeout, Phase::connect)});
  EXPECT_TRUE(find(exposition(), "meshprobe_observed_diagnosis", {}).empty());
}

TEST_F(MetricsTest, PhasesThatDidNotRunLoseTheirSeries) {
  round(webhook_, {ok_result(*webhook_, "10.0.0.1")});
  round(webhook_, {failed_result(*webhook_, "10.0.0.1", Diagnosis::tcp_refused, Phase::connect)});

  const std::vector<Sample> phases =
      find(exposition(), "meshprobe_phase_duration_seconds", {{"address", "10.0.0.1"}});
  ASSERT_EQ(phases.size(), 1u);
  EXPECT_EQ(phases.front().labels.at("phase"), "connect");
  EXPECT_EQ(phases.front().value, 3);
}

TEST_F(MetricsTest, ProbesTotalCountsEveryAddressResult) {
  round(webhook_, {ok_result(*webhook_, "10.0.0.1"), ok_result(*webhook_, "10.0.0.2"),
                   failed_result(*webhook_, "10.0.0.3", Diagnosis::tcp_timeout, Phase::connect)});
  round(webhook_, {ok_result(*webhook_, "10.0.0.1"), ok_result(*webhook_, "10.0.0.2"),
                   ok_result(*webhook_, "10.0.0.3")});

  const std::string text = exposition();
  const Labels target = {{"target", "istiod-webhook"}};
  EXPECT_EQ(value_of(text, "meshprobe_probes_total", {{"diagnosis", "ok"}}), 5);
  EXPECT_EQ(value_of(text, "meshprobe_probes_total", {{"diagnosis", "tcp_timeout"}}), 1);
  EXPECT_EQ(find(text, "meshprobe_probes_total", target).size(), 2u);
  EXPECT_EQ(value_of(text, "meshprobe_probe_duration_seconds_count", {{"kind", "https"}}), 6);
}

TEST_F(MetricsTest, TransitionsCountEveryFlip) {
  round(xds_, {ok_result(*xds_, "10.0.0.9")});
  round(xds_, {failed_result(*xds_, "10.0.0.9", Diagnosis::tcp_refused, Phase::connect)});
  round(xds_, {ok_result(*xds_, "10.0.0.9")});
  round(xds_, {ok_result(*xds_, "10.0.0.9")});

  EXPECT_EQ(value_of(exposition(), "meshprobe_transitions_total", {{"address", "10.0.0.9"}}), 2);
}

TEST_F(MetricsTest, DroppedAddressesLoseEverySeries) {
  round(webhook_, {ok_result(*webhook_, "10.0.0.1"),
                   failed_result(*webhook_, "10.0.0.2", Diagnosis::tcp_timeout, Phase::connect)});
  round(webhook_, {ok_result(*webhook_, "10.0.0.1")});

  const std::string text = exposition();
  for (const Sample& sample : parse_exposition(text)) {
    auto address = sample.labels.find("address");
    EXPECT_FALSE(address != sample.labels.end() && address->second == "10.0.0.2")
        << sample.name << " still has a series for the dropped address";
  }
  EXPECT_EQ(value_of(text, "probe_success", {{"address", "10.0.0.1"}}), 1);
}

TEST_F(MetricsTest, ATargetLeavingTheConfigLosesEverySeries) {
  round(webhook_, {ok_result(*webhook_, "10.0.0.1")});
  round(xds_, {ok_result(*xds_, "10.0.0.1")});
  store_.record_skip("istiod-webhook");

  forget("istiod-webhook");

  const std::string text = exposition();
  for (const Sample& sample : parse_exposition(text)) {
    auto target = sample.labels.find("target");
    EXPECT_FALSE(target != sample.labels.end() && target->second == "istiod-webhook")
        << sample.name << " survived forget_target";
  }
  EXPECT_EQ(value_of(text, "probe_success", {{"target", "istiod-xds"}}), 1);
}

TEST_F(MetricsTest, UrlChangeReplacesEverySeriesOfTheTarget) {
  round(xds_, {ok_result(*xds_, "10.0.0.1")});
  auto moved = make_target("istiod-xds", "tcp://istiod.istio-system.svc:15010", ProbeKind::tcp);
  round(moved, {ok_result(*moved, "10.0.0.1")});

  const std::string text = exposition();
  EXPECT_TRUE(find(text, "probe_success", {{"url", "tcp://istiod.istio-system.svc:15012"}}).empty())
      << text;
  EXPECT_EQ(value_of(text, "meshprobe_probes_total",
                     {{"url", "tcp://istiod.istio-system.svc:15010"}, {"diagnosis", "ok"}}),
            1);
}

TEST_F(MetricsTest, TlsVersionChangeReplacesTheInfoSeries) {
  ProbeResult tls12 = ok_result(*webhook_, "10.0.0.1");
  tls12.tls->version = "TLSv1.2";
  round(webhook_, {tls12});
  round(webhook_, {ok_result(*webhook_, "10.0.0.1")});

  const std::vector<Sample> versions =
      find(exposition(), "probe_tls_version_info", {{"address", "10.0.0.1"}});
  ASSERT_EQ(versions.size(), 1u);
  EXPECT_EQ(versions.front().labels.at("version"), "TLSv1.3");
  EXPECT_EQ(versions.front().value, 1);
}

TEST_F(MetricsTest, ResultWithoutTlsRemovesCertificateAndVersionSeries) {
  round(webhook_, {ok_result(*webhook_, "10.0.0.1")});
  round(webhook_, {failed_result(*webhook_, "10.0.0.1", Diagnosis::tcp_timeout, Phase::connect)});

  const std::string text = exposition();
  EXPECT_TRUE(find(text, "probe_tls_version_info").empty()) << text;
  EXPECT_TRUE(find(text, "probe_ssl_earliest_cert_expiry").empty()) << text;
  EXPECT_TRUE(find(text, "meshprobe_cert_remaining_seconds").empty()) << text;
  EXPECT_EQ(value_of(text, "probe_http_status_code", {{"address", "10.0.0.1"}}), 0);
}

TEST_F(MetricsTest, HttpStatusIsOnlyExposedForHttps) {
  round(xds_, {ok_result(*xds_, "10.0.0.9")});

  EXPECT_TRUE(find(exposition(), "probe_http_status_code").empty());
}

TEST_F(MetricsTest, GrpcStatusInfoNamesTheLastCallsStatus) {
  const auto grpc =
      make_target("istiod-xds", "grpc://istiod.istio-system.svc:15012", ProbeKind::grpc);
  ProbeResult result = ok_result(*grpc, "10.0.0.9");
  result.grpc = GrpcInfo{};
  result.grpc->status = 16;
  round(grpc, {result});

  const std::string text = exposition();
  const auto samples = find(text, "meshprobe_grpc_status_info", {{"address", "10.0.0.9"}});
  ASSERT_EQ(samples.size(), 1u) << text;
  EXPECT_EQ(samples.front().labels.at("grpc_status"), "UNAUTHENTICATED");
  EXPECT_EQ(samples.front().value, 1);
}

TEST_F(MetricsTest, GrpcStatusInfoIsEmptyWhenNoStatusCame) {
  const auto grpc =
      make_target("istiod-xds", "grpc://istiod.istio-system.svc:15012", ProbeKind::grpc);
  round(grpc, {failed_result(*grpc, "10.0.0.9", Diagnosis::tcp_timeout, Phase::connect)});

  const auto samples = find(exposition(), "meshprobe_grpc_status_info", {{"address", "10.0.0.9"}});
  ASSERT_EQ(samples.size(), 1u);
  EXPECT_EQ(samples.front().labels.at("grpc_status"), "");
}

TEST_F(MetricsTest, GrpcStatusInfoIsOnlyExposedForGrpc) {
  round(webhook_, {ok_result(*webhook_, "10.0.0.1")});

  EXPECT_TRUE(find(exposition(), "meshprobe_grpc_status_info").empty());
}

TEST_F(MetricsTest, SkippedRoundsAreCountedPerTarget) {
  configure(xds_);
  store_.record_skip("istiod-xds");
  store_.record_skip("istiod-xds");

  EXPECT_EQ(value_of(exposition(), "meshprobe_probes_skipped_total", {{"target", "istiod-xds"}}),
            2);
}

TEST_F(MetricsTest, LabelValuesAreEscaped) {
  const std::string name = "we\"ird\\name\nline";
  const std::string url = "tcp://host:1/\"q\"\\";
  auto odd = make_target(name, url, ProbeKind::tcp);
  round(odd, {ok_result(*odd, "10.0.0.1")});

  const std::string text = exposition();
  EXPECT_NE(text.find(R"(target="we\"ird\\name\nline")"), std::string::npos) << text;
  EXPECT_NE(text.find(R"(url="tcp://host:1/\"q\"\\")"), std::string::npos) << text;
  EXPECT_EQ(value_of(text, "probe_success", {{"target", name}, {"url", url}}), 1);
}

TEST_F(MetricsTest, BuildInfoCarriesVersionVantageAndNode) {
  EXPECT_EQ(value_of(exposition(), "meshprobe_build_info",
                     {{"version", MESHPROBE_VERSION}, {"vantage", "node"}, {"node", "worker-1"}}),
            1);
}

TEST_F(MetricsTest, ConfigReloadsAreCountedByResult) {
  metrics_.record_config_reload(true);
  metrics_.record_config_reload(false);

  const std::string text = exposition();
  EXPECT_EQ(value_of(text, "meshprobe_config_reloads_total", {{"result", "success"}}), 1);
  EXPECT_EQ(value_of(text, "meshprobe_config_reloads_total", {{"result", "failure"}}), 1);
  EXPECT_EQ(value_of(text, "meshprobe_config_last_reload_successful", {}), 0);
}

TEST_F(MetricsTest, ResumedTlsHandshakesAreCounted) {
  ProbeResult full;
  full.kind = ProbeKind::tls;
  full.tls = TlsInfo{};
  ProbeResult resumed = full;
  resumed.tls->handshake = HandshakeKind::resumed;
  ProbeResult tcp;

  metrics_.observe_round({full, resumed, resumed, tcp});

  EXPECT_EQ(value_of(exposition(), "meshprobe_tls_resumed_total", {}), 2);
}

TEST_F(MetricsTest, AgentGaugesAndLatenessAreExposed) {
  metrics_.set_in_flight(3);
  metrics_.set_targets(7);
  metrics_.observe_schedule_lateness(0.0002);

  const std::string text = exposition();
  EXPECT_EQ(value_of(text, "meshprobe_probes_in_flight", {}), 3);
  EXPECT_EQ(value_of(text, "meshprobe_targets", {}), 7);
  EXPECT_EQ(value_of(text, "meshprobe_schedule_lateness_seconds_bucket", {{"le", "0.00025"}}), 1);
}

// Runs `promtool check metrics` on `text`; returns its output, exit status
// in `status`.
std::string promtool_check(const std::string& text, int& status) {
  const std::filesystem::path file =
      std::filesystem::temp_directory_path() /
      ("meshprobe_metrics_test_" + std::to_string(::getpid()) + ".prom");
  std::ofstream(file) << text;
  const std::string command = "/usr/bin/promtool check metrics < '" + file.string() + "' 2>&1";
  std::string output;
  if (FILE* pipe = ::popen(command.c_str(), "r")) {
    char buffer[4096];
    std::size_t n = 0;
    while ((n = std::fread(buffer, 1, sizeof buffer, pipe)) > 0) output.append(buffer, n);
    status = ::pclose(pipe);
  } else {
    status = -1;
  }
  std::filesystem::remove(file);
  return output;
}

TEST_F(MetricsTest, PromtoolFindsNoProblemsInARealisticExposition) {
  if (!std::filesystem::exists("/usr/bin/promtool")) {
    GTEST_SKIP() << "promtool is not installed (Debian package `prometheus`): cannot lint";
  }
  auto grpc = make_target("istiod-grpc", "grpc://istiod.istio-system.svc:15012", ProbeKind::grpc);
  auto tls = make_target("istiod-tls", "tls://10.96.0.10:15017", ProbeKind::tls);
  auto missing =
      make_target("istiod-canary", "tcp://istiod-canary.istio-system.svc:15012", ProbeKind::tcp);
  round(webhook_, {ok_result(*webhook_, "10.0.0.1"), ok_result(*webhook_, "10.0.0.2")});
  round(webhook_, {ok_result(*webhook_, "10.0.0.1"),
                   failed_result(*webhook_, "10.0.0.2", Diagnosis::tcp_timeout, Phase::connect)});
  round(xds_, {ok_result(*xds_, "10.0.0.1")});
  round(grpc, {ok_result(*grpc, "10.0.0.1")});
  ProbeResult untrusted = ok_result(*tls, "10.96.0.10");
  untrusted.success = false;
  untrusted.diagnosis = Diagnosis::tls_unknown_authority;
  untrusted.failed_phase = Phase::tls;
  untrusted.tls->verified = false;
  round(tls, {untrusted});
  round(missing, {failed_result(*missing, "", Diagnosis::dns_not_found, Phase::resolve)});
  store_.record_skip("istiod-xds");
  metrics_.observe_schedule_lateness(0.003);
  metrics_.set_in_flight(2);
  metrics_.set_targets(5);
  metrics_.record_config_reload(true);

  int status = 0;
  const std::string output = promtool_check(exposition(), status);

  EXPECT_EQ(output, "");
  ASSERT_TRUE(WIFEXITED(status)) << "promtool did not run";
  EXPECT_EQ(WEXITSTATUS(status), 0) << output;
}

TEST_F(MetricsTest, PromtoolAcceptsTheWebhookVerdictSeriesAfterTheProbeSeries) {
  if (!std::filesystem::exists("/usr/bin/promtool")) {
    GTEST_SKIP() << "promtool is not installed (Debian package `prometheus`): cannot lint";
  }
  round(webhook_, {ok_result(*webhook_, "10.0.0.1")});
  kube::WebhookVerdict timed_out;
  timed_out.webhook = "namespace.sidecar-injector.istio.io";
  timed_out.configuration = "istio-sidecar-injector";
  timed_out.diagnosis = Diagnosis::tcp_timeout;
  timed_out.hop = kube::kHopControlPlaneNetwork;
  kube::WebhookVerdict inferred;
  inferred.webhook = "rev.validation.istio.io";
  inferred.configuration = "istio-validator-istio-system";
  inferred.hop = kube::kHopInferred;
  const std::vector<kube::WebhookVerdict> verdicts{timed_out, inferred};

  int status = 0;
  const std::string output =
      promtool_check(exposition() + webhook_verdict_metrics(verdicts), status);

  EXPECT_EQ(output, "");
  ASSERT_TRUE(WIFEXITED(status)) << "promtool did not run";
  EXPECT_EQ(WEXITSTATUS(status), 0) << output;
}

}  // namespace
}  // namespace meshprobe
