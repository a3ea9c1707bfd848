#include "agent/metrics.h"

#include <prometheus/collectable.h>
#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/metric_family.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstddef>
#include <iterator>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "meshprobe_version.h"

// Layout. prometheus-cpp 1.0's Family::Remove scans every series of the family
// to find the pointer, so with one process-wide family per metric, removing a
// series would cost O(all series) — 100,000+ on a busy agent, on every
// diagnosis change and for each of a forgotten target's series. Instead each
// target owns its own families, with target/url/vantage/node as constant
// labels: a removal scans only that target's addresses, and forgetting a
// target is dropping its families. serialize() merges the families of equal
// name so each metric still gets a single HELP/TYPE block.

namespace meshprobe {
namespace {

using prometheus::Counter;
using prometheus::Family;
using prometheus::Gauge;
using prometheus::Histogram;
using prometheus::Labels;
using prometheus::MetricFamily;
using prometheus::MetricType;

struct FamilyDoc {
  const char* name;
  const char* help;
  MetricType type;
};

// Series of one target, each family one slot; TargetSeries::families() lists
// them in this order so serialize() can merge targets slot by slot.
enum TargetFamilySlot : std::size_t {
  kProbeSuccess,
  kProbeDuration,
  kCertExpiry,
  kTlsVersion,
  kHttpStatus,
  kPhaseDuration,
  kDurationHistogram,
  kProbesTotal,
  kDiagnosis,
  kCertRemaining,
  kConsecutiveFailures,
  kTransitions,
  kSkipped,
  kTargetFamilyCount,
};

constexpr std::array<FamilyDoc, kTargetFamilyCount> kTargetFamilies = {{
    {"probe_success", "Whether the last probe of the address succeeded (1) or failed (0).",
     MetricType::Gauge},
    {"probe_duration_seconds", "How long the last probe of the address took, in seconds.",
     MetricType::Gauge},
    {"probe_ssl_earliest_cert_expiry",
     "Expiry of the earliest-expiring certificate the address served, in unix seconds.",
     MetricType::Gauge},
    {"probe_tls_version_info", "The TLS version the address negotiated, in the version label.",
     MetricType::Gauge},
    {"probe_http_status_code",
     "HTTP status of the last https probe of the address (0 when no status line arrived).",
     MetricType::Gauge},
    {"meshprobe_phase_duration_seconds",
     "How long each phase of the last probe of the address took, for the phases that ran.",
     MetricType::Gauge},
    {"meshprobe_probe_duration_seconds", "Distribution of whole-probe durations, in seconds.",
     MetricType::Histogram},
    {"meshprobe_probes_total", "Finished probes, one per address per round, by diagnosis.",
     MetricType::Counter},
    {"meshprobe_diagnosis", "The current diagnosis of the address (1 on its diagnosis label).",
     MetricType::Gauge},
    {"meshprobe_cert_remaining_seconds",
     "Seconds from the last probe until the earliest certificate the address served expires "
     "(negative once expired).",
     MetricType::Gauge},
    {"meshprobe_consecutive_failures", "Failed probes of the address in a row.",
     MetricType::Gauge},
    {"meshprobe_transitions_total", "Flips of the address between ok and failing.",
     MetricType::Counter},
    {"meshprobe_probes_skipped_total",
     "Rounds not started because the previous round was still running.", MetricType::Counter},
}};

// Probes take from a millisecond (a local TCP connect) to the timeout (the
// default is 3 s, users may raise it).
const Histogram::BucketBoundaries kProbeDurationBuckets = {
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};

// A healthy scheduler starts probes within a fraction of a millisecond of
// their due time; a second late means the event loop is starved.
const Histogram::BucketBoundaries kLatenessBuckets = {
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1};

constexpr std::size_t kDiagnosisCount = std::size(kAllDiagnoses);
constexpr std::array<Phase, 4> kPhases = {Phase::resolve, Phase::connect, Phase::tls,
                                          Phase::app};

double seconds(Duration d) { return std::chrono::duration<double>(d).count(); }

double unix_seconds(WallClock::time_point t) {
  return std::chrono::duration<double>(t.time_since_epoch()).count();
}

template <typename T>
Family<T> make_family(TargetFamilySlot slot, const Labels& constant_labels) {
  const FamilyDoc& doc = kTargetFamilies[slot];
  return Family<T>(doc.name, doc.help, constant_labels);
}

// Removes the series `slot` points at, if any.
template <typename T>
void remove_series(Family<T>& family, T*& slot) {
  if (slot != nullptr) {
    family.Remove(slot);
    slot = nullptr;
  }
}

const std::optional<Duration>& phase_duration(const PhaseDurations& phases, Phase phase) {
  switch (phase) {
    case Phase::resolve: return phases.resolve;
    case Phase::connect: return phases.connect;
    case Phase::tls: return phases.tls;
    case Phase::app: return phases.app;
  }
  return phases.app;
}

// Cached pointers to the series of one address, so a round sets values
// without building label maps or looking series up in their families.
// Optional series are null while absent.
struct AddressSeries {
  Gauge* success = nullptr;
  Gauge* duration = nullptr;
  Gauge* consecutive_failures = nullptr;
  Counter* transitions = nullptr;
  Gauge* diagnosis = nullptr;
  Gauge* cert_expiry = nullptr;
  Gauge* cert_remaining = nullptr;
  Gauge* tls_version = nullptr;
  Gauge* http_status = nullptr;
  std::array<Gauge*, kPhases.size()> phases{};

  Diagnosis diagnosis_value = Diagnosis::ok;  // what `diagnosis` is labelled with
  std::string tls_version_value;              // what `tls_version` is labelled with
  // AddressState::transitions already counted: the store keeps a running
  // total, the counter advances by what is new.
  std::uint64_t transitions_counted = 0;
};

// Every series of one target.
class TargetSeries {
 public:
  TargetSeries(const Target& target, const Labels& constant_labels)
      : url_(target.url),
        success_(make_family<Gauge>(kProbeSuccess, constant_labels)),
        duration_(make_family<Gauge>(kProbeDuration, constant_labels)),
        cert_expiry_(make_family<Gauge>(kCertExpiry, constant_labels)),
        tls_version_(make_family<Gauge>(kTlsVersion, constant_labels)),
        http_status_(make_family<Gauge>(kHttpStatus, constant_labels)),
        phase_duration_(make_family<Gauge>(kPhaseDuration, constant_labels)),
        duration_histogram_family_(make_family<Histogram>(kDurationHistogram, constant_labels)),
        probes_total_(make_family<Counter>(kProbesTotal, constant_labels)),
        diagnosis_(make_family<Gauge>(kDiagnosis, constant_labels)),
        cert_remaining_(make_family<Gauge>(kCertRemaining, constant_labels)),
        consecutive_failures_(make_family<Gauge>(kConsecutiveFailures, constant_labels)),
        transitions_(make_family<Counter>(kTransitions, constant_labels)),
        skipped_family_(make_family<Counter>(kSkipped, constant_labels)),
        duration_histogram_(duration_histogram_family_.Add({}, kProbeDurationBuckets)),
        skipped_(skipped_family_.Add({})) {}

  const std::string& url() const { return url_; }

  // Counts one finished probe, whatever became of its address since.
  void count_probe(const ProbeResult& result) {
    probes_total_for(result.diagnosis).Increment();
    duration_histogram_.Observe(seconds(result.duration));
  }

  void count_skip() { skipped_.Increment(); }

  void update_address(const std::string& address, const AddressState& state) {
    AddressSeries& series = series_of(address);
    const ProbeResult& result = state.last;
    series.success->Set(result.success ? 1 : 0);
    series.duration->Set(seconds(result.duration));
    series.consecutive_failures->Set(static_cast<double>(state.consecutive_failures));
    count_transitions(series, state.transitions);
    update_diagnosis(address, series, result.diagnosis);
    update_phases(address, series, result.phases);
    update_tls(address, series, result);
    update_http_status(address, series, result);
  }

  void remove_address(const std::string& address) {
    auto it = addresses_.find(address);
    if (it == addresses_.end()) return;
    remove_all_series(it->second);
    addresses_.erase(it);
  }

  // Drops series of addresses the store no longer knows, should a drop have
  // gone unreported.
  void remove_addresses_not_in(const std::map<std::string, AddressState>& known) {
    if (addresses_.size() <= known.size()) return;  // every cached address is known
    for (auto it = addresses_.begin(); it != addresses_.end();) {
      if (known.count(it->first) != 0) {
        ++it;
        continue;
      }
      remove_all_series(it->second);
      it = addresses_.erase(it);
    }
  }

  std::array<const prometheus::Collectable*, kTargetFamilyCount> families() const {
    std::array<const prometheus::Collectable*, kTargetFamilyCount> all{};
    all[kProbeSuccess] = &success_;
    all[kProbeDuration] = &duration_;
    all[kCertExpiry] = &cert_expiry_;
    all[kTlsVersion] = &tls_version_;
    all[kHttpStatus] = &http_status_;
    all[kPhaseDuration] = &phase_duration_;
    all[kDurationHistogram] = &duration_histogram_family_;
    all[kProbesTotal] = &probes_total_;
    all[kDiagnosis] = &diagnosis_;
    all[kCertRemaining] = &cert_remaining_;
    all[kConsecutiveFailures] = &consecutive_failures_;
    all[kTransitions] = &transitions_;
    all[kSkipped] = &skipped_family_;
    return all;
  }

 private:
  static Labels address_labels(const std::string& address) { return {{"address", address}}; }

  Counter& probes_total_for(Diagnosis diagnosis) {
    Counter*& counter = probes_total_by_diagnosis_[static_cast<std::size_t>(diagnosis)];
    if (counter == nullptr) {
      counter = &probes_total_.Add({{"diagnosis", std::string(code(diagnosis))}});
    }
    return *counter;
  }

  // The always-present series are made with the address's entry.
  AddressSeries& series_of(const std::string& address) {
    auto [it, inserted] = addresses_.try_emplace(address);
    AddressSeries& series = it->second;
    if (inserted) {
      const Labels labels = address_labels(address);
      series.success = &success_.Add(labels);
      series.duration = &duration_.Add(labels);
      series.consecutive_failures = &consecutive_failures_.Add(labels);
      series.transitions = &transitions_.Add(labels);
    }
    return series;
  }

  static void count_transitions(AddressSeries& series, std::uint64_t transitions) {
    // Fewer than counted means the store started the address afresh: a new
    // baseline, nothing to add.
    if (transitions > series.transitions_counted) {
      series.transitions->Increment(static_cast<double>(transitions - series.transitions_counted));
    }
    series.transitions_counted = transitions;
  }

  // Exactly one series per address, labelled with the current diagnosis.
  void update_diagnosis(const std::string& address, AddressSeries& series, Diagnosis diagnosis) {
    if (series.diagnosis != nullptr && series.diagnosis_value == diagnosis) return;
    remove_series(diagnosis_, series.diagnosis);
    Labels labels = address_labels(address);
    labels.emplace("diagnosis", std::string(code(diagnosis)));
    series.diagnosis = &diagnosis_.Add(labels);
    series.diagnosis->Set(1);
    series.diagnosis_value = diagnosis;
  }

  // Only phases that ran this round keep a series: a stale connect time next
  // to a DNS failure would mislead.
  void update_phases(const std::string& address, AddressSeries& series,
                     const PhaseDurations& phases) {
    for (std::size_t i = 0; i < kPhases.size(); ++i) {
      const std::optional<Duration>& ran = phase_duration(phases, kPhases[i]);
      Gauge*& gauge = series.phases[i];
      if (!ran) {
        remove_series(phase_duration_, gauge);
        continue;
      }
      if (gauge == nullptr) {
        Labels labels = address_labels(address);
        labels.emplace("phase", std::string(phase_name(kPhases[i])));
        gauge = &phase_duration_.Add(labels);
      }
      gauge->Set(seconds(*ran));
    }
  }

  void update_tls(const std::string& address, AddressSeries& series, const ProbeResult& result) {
    const TlsInfo* tls = result.tls ? &*result.tls : nullptr;
    update_cert_expiry(address, series, result, tls ? tls->earliest_expiry : std::nullopt);
    update_tls_version(address, series, tls ? std::string_view(tls->version) : std::string_view());
  }

  void update_cert_expiry(const std::string& address, AddressSeries& series,
                          const ProbeResult& result,
                          const std::optional<WallClock::time_point>& expiry) {
    if (!expiry) {
      remove_series(cert_expiry_, series.cert_expiry);
      remove_series(cert_remaining_, series.cert_remaining);
      return;
    }
    if (series.cert_expiry == nullptr) {
      series.cert_expiry = &cert_expiry_.Add(address_labels(address));
      series.cert_remaining = &cert_remaining_.Add(address_labels(address));
    }
    // Measured from when the chain was seen, so the value does not depend on
    // when the result reached us; a result without a start time falls back
    // to now.
    const WallClock::time_point seen =
        result.started_at == WallClock::time_point{} ? WallClock::now() : result.started_at;
    series.cert_expiry->Set(unix_seconds(*expiry));
    series.cert_remaining->Set(seconds(*expiry - seen));
  }

  // An info series carries its value in a label: a new version is a new
  // series, and the old one must go.
  void update_tls_version(const std::string& address, AddressSeries& series,
                          std::string_view version) {
    if (series.tls_version != nullptr && series.tls_version_value == version) return;
    remove_series(tls_version_, series.tls_version);
    series.tls_version_value.clear();
    if (version.empty()) return;
    Labels labels = address_labels(address);
    labels.emplace("version", std::string(version));
    series.tls_version = &tls_version_.Add(labels);
    series.tls_version->Set(1);
    series.tls_version_value.assign(version);
  }

  void update_http_status(const std::string& address, AddressSeries& series,
                          const ProbeResult& result) {
    if (result.kind != ProbeKind::https) {
      remove_series(http_status_, series.http_status);
      return;
    }
    if (series.http_status == nullptr) series.http_status = &http_status_.Add(address_labels(address));
    series.http_status->Set(result.http_status);
  }

  void remove_all_series(AddressSeries& series) {
    remove_series(success_, series.success);
    remove_series(duration_, series.duration);
    remove_series(consecutive_failures_, series.consecutive_failures);
    remove_series(transitions_, series.transitions);
    remove_series(diagnosis_, series.diagnosis);
    remove_series(cert_expiry_, series.cert_expiry);
    remove_series(cert_remaining_, series.cert_remaining);
    remove_series(tls_version_, series.tls_version);
    remove_series(http_status_, series.http_status);
    for (Gauge*& gauge : series.phases) remove_series(phase_duration_, gauge);
  }

  std::string url_;  // the url label: a new URL means new series

  Family<Gauge> success_;
  Family<Gauge> duration_;
  Family<Gauge> cert_expiry_;
  Family<Gauge> tls_version_;
  Family<Gauge> http_status_;
  Family<Gauge> phase_duration_;
  Family<Histogram> duration_histogram_family_;
  Family<Counter> probes_total_;
  Family<Gauge> diagnosis_;
  Family<Gauge> cert_remaining_;
  Family<Gauge> consecutive_failures_;
  Family<Counter> transitions_;
  Family<Counter> skipped_family_;

  Histogram& duration_histogram_;
  Counter& skipped_;
  // Made on first use: most targets only ever see a few diagnoses.
  std::array<Counter*, kDiagnosisCount> probes_total_by_diagnosis_{};
  std::unordered_map<std::string, AddressSeries> addresses_;
};

// One MetricFamily per target family slot, filled from every target.
std::array<MetricFamily, kTargetFamilyCount> empty_target_families() {
  std::array<MetricFamily, kTargetFamilyCount> merged;
  for (std::size_t slot = 0; slot < kTargetFamilyCount; ++slot) {
    merged[slot].name = kTargetFamilies[slot].name;
    merged[slot].help = kTargetFamilies[slot].help;
    merged[slot].type = kTargetFamilies[slot].type;
  }
  return merged;
}

void append_series(MetricFamily& merged, std::vector<MetricFamily> collected) {
  for (MetricFamily& family : collected) {
    std::move(family.metric.begin(), family.metric.end(), std::back_inserter(merged.metric));
  }
}

}  // namespace

struct Metrics::Impl {
  Impl(std::string vantage_name, std::string node)
      : vantage(std::move(vantage_name)),
        node_name(std::move(node)),
        lateness(prometheus::BuildHistogram()
                     .Name("meshprobe_schedule_lateness_seconds")
                     .Help("How late probes start against their due time, in seconds.")
                     .Register(agent_registry)
                     .Add({}, kLatenessBuckets)),
        in_flight(prometheus::BuildGauge()
                      .Name("meshprobe_probes_in_flight")
                      .Help("Probes running now.")
                      .Register(agent_registry)
                      .Add({})),
        targets(prometheus::BuildGauge()
                    .Name("meshprobe_targets")
                    .Help("Targets in the configuration.")
                    .Register(agent_registry)
                    .Add({})),
        reloads(prometheus::BuildCounter()
                    .Name("meshprobe_config_reloads_total")
                    .Help("Configuration reloads, by result.")
                    .Register(agent_registry)),
        reload_successes(reloads.Add({{"result", "success"}})),
        reload_failures(reloads.Add({{"result", "failure"}})),
        last_reload_successful(prometheus::BuildGauge()
                                   .Name("meshprobe_config_last_reload_successful")
                                   .Help("Whether the last configuration reload succeeded.")
                                   .Register(agent_registry)
                                   .Add({})) {
    // The agent refuses to start on a bad configuration, so until a reload
    // says otherwise the configuration in use loaded fine.
    last_reload_successful.Set(1);
    prometheus::BuildGauge()
        .Name("meshprobe_build_info")
        .Help("Always 1: the meshprobe version, vantage and node, in labels.")
        .Register(agent_registry)
        .Add({{"version", MESHPROBE_VERSION}, {"vantage", vantage}, {"node", node_name}})
        .Set(1);
  }

  // The target's series, made on first sight and made afresh when its URL
  // changed (the store starts such a target afresh too).
  TargetSeries& series_of(const Target& target) {
    std::unique_ptr<TargetSeries>& series = by_target[target.name];
    if (series == nullptr || series->url() != target.url) {
      series = std::make_unique<TargetSeries>(target, constant_labels(target));
    }
    return *series;
  }

  Labels constant_labels(const Target& target) const {
    return {{"target", target.name}, {"url", target.url}, {"vantage", vantage}, {"node", node_name}};
  }

  std::string vantage;
  std::string node_name;
  // Agent-wide series; per-target ones live in by_target.
  prometheus::Registry agent_registry;
  Histogram& lateness;
  Gauge& in_flight;
  Gauge& targets;
  Family<Counter>& reloads;
  Counter& reload_successes;
  Counter& reload_failures;
  Gauge& last_reload_successful;
  std::unordered_map<std::string, std::unique_ptr<TargetSeries>> by_target;
};

Metrics::Metrics(std::string vantage, std::string node_name)
    : impl_(std::make_unique<Impl>(std::move(vantage), std::move(node_name))) {}

Metrics::~Metrics() = default;

void Metrics::record_round(const TargetState& state, const std::vector<ProbeResult>& round,
                           const std::vector<std::string>& dropped_addresses) {
  if (state.target == nullptr) return;
  TargetSeries& series = impl_->series_of(*state.target);
  for (const std::string& address : dropped_addresses) series.remove_address(address);
  for (const ProbeResult& result : round) series.count_probe(result);
  for (const auto& [address, address_state] : state.addresses) {
    series.update_address(address, address_state);
  }
  series.remove_addresses_not_in(state.addresses);
}

void Metrics::record_skip(const TargetState& state) {
  if (state.target == nullptr) return;
  impl_->series_of(*state.target).count_skip();
}

void Metrics::forget_target(const std::string& target_name) {
  impl_->by_target.erase(target_name);
}

void Metrics::observe_schedule_lateness(double seconds) {
  // A probe started early is on time as far as lateness goes; a negative
  // observation would make the histogram's sum go backwards.
  impl_->lateness.Observe(std::max(seconds, 0.0));
}

void Metrics::set_in_flight(int probes) { impl_->in_flight.Set(probes); }

void Metrics::set_targets(int targets) { impl_->targets.Set(targets); }

void Metrics::record_config_reload(bool success) {
  (success ? impl_->reload_successes : impl_->reload_failures).Increment();
  impl_->last_reload_successful.Set(success ? 1 : 0);
}

std::string Metrics::serialize() const {
  std::vector<MetricFamily> exposition = impl_->agent_registry.Collect();
  std::array<MetricFamily, kTargetFamilyCount> merged = empty_target_families();
  for (const auto& [name, series] : impl_->by_target) {
    const auto families = series->families();
    for (std::size_t slot = 0; slot < kTargetFamilyCount; ++slot) {
      append_series(merged[slot], families[slot]->Collect());
    }
  }
  for (MetricFamily& family : merged) {
    if (!family.metric.empty()) exposition.push_back(std::move(family));
  }
  return prometheus::TextSerializer().Serialize(exposition);
}

}  // namespace meshprobe
