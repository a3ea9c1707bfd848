#include "agent/results/metrics.h"

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include <array>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <utility>

#include "agent/results/exposition.h"
#include "meshprobe_version.h"

namespace meshprobe {
namespace {

using prometheus::Histogram;

// Probes take from a millisecond (a local TCP connect) to the timeout (the
// default is 3 s, users may raise it).
const Histogram::BucketBoundaries kProbeDurationBuckets = {
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};

// A healthy scheduler starts probes within a fraction of a millisecond of
// their due time; a second late means the event loop is starved.
const Histogram::BucketBoundaries kLatenessBuckets = {
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1};

constexpr std::array<Phase, 4> kPhases = {Phase::resolve, Phase::connect, Phase::tls, Phase::app};
constexpr std::array<ProbeKind, 4> kKinds = {ProbeKind::tcp, ProbeKind::tls, ProbeKind::https,
                                             ProbeKind::grpc};

double seconds(Duration d) { return std::chrono::duration<double>(d).count(); }

double unix_seconds(WallClock::time_point t) {
  return std::chrono::duration<double>(t.time_since_epoch()).count();
}

void append_number(std::string& out, double value) {
  if (std::isnan(value)) {
    out += "NaN";
    return;
  }
  if (std::isinf(value)) {
    out += value > 0 ? "+Inf" : "-Inf";
    return;
  }
  char buf[32];
  // Most samples are whole numbers (0/1 gauges, counters, certificate
  // times): integer formatting is several times cheaper than the
  // shortest-double search and prints the same value.
  constexpr double kExactIntegers = 9007199254740992.0;  // 2^53
  if (std::trunc(value) == value && std::fabs(value) < kExactIntegers) {
    auto [end, ec] = std::to_chars(buf, buf + sizeof buf, static_cast<std::int64_t>(value));
    out.append(buf, end);
    return;
  }
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, value);
  out.append(buf, end);
}

// A duration in seconds. Durations are whole nanoseconds, so they print
// exactly with integer arithmetic (0.000312417), not through the
// shortest-double search that dominated the scrape of a large agent.
struct Seconds {
  Duration value;
};

void append_number(std::string& out, Seconds seconds) {
  std::int64_t ns = seconds.value.count();
  if (ns < 0) {
    out += '-';
    ns = -ns;
  }
  char buf[32];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, ns / 1000000000);
  out.append(buf, end);
  auto fraction = ns % 1000000000;
  if (fraction == 0) return;
  char digits[9];
  for (int i = 8; i >= 0; --i, fraction /= 10) digits[i] = static_cast<char>('0' + fraction % 10);
  std::size_t length = 9;
  while (digits[length - 1] == '0') --length;
  out += '.';
  out.append(digits, length);
}

// One sample line: NAME{LABELS[,EXTRA="VALUE"]} VALUE. `labels` is the
// series' label set without braces.
template <class Value>
void append_sample(std::string& out, std::string_view name, std::string_view labels, Value value,
                   std::string_view extra_name = {}, std::string_view extra_value = {}) {
  out += name;
  out += '{';
  out += labels;
  if (!extra_name.empty()) {
    // Extra values are catalogue codes, phase names and TLS versions:
    // nothing to escape.
    out += ',';
    out += extra_name;
    out += "=\"";
    out += extra_value;
    out += '"';
  }
  out += "} ";
  append_number(out, value);
  out += '\n';
}

// What a scrape needs of one address, copied out of the store when the
// scrape starts: the exposition is then written in parts while the event
// loop goes on recording results, and must not see half a round.
// A label set in ScrapeSnapshot::label_text, without braces.
struct LabelSet {
  std::uint32_t offset = 0;
  std::uint32_t size = 0;
};

struct AddressRow {
  LabelSet labels;  // target, url, vantage, node, address
  ProbeKind kind = ProbeKind::tcp;
  bool success = false;
  Diagnosis diagnosis = Diagnosis::ok;
  // A target with `expect`: what the probe itself ended in.
  std::optional<Diagnosis> observed;
  int http_status = 0;
  // grpc: the grpc-status of the last call; -1 when none came. Codes outside
  // the 17 canonical ones show as the label value "".
  int grpc_status = -1;
  Duration duration{};
  PhaseDurations phases;
  std::optional<WallClock::time_point> earliest_expiry;
  WallClock::time_point started_at;
  std::string tls_version;  // "TLSv1.3": fits the small-string buffer
  std::uint64_t consecutive_failures = 0;
  std::uint64_t transitions = 0;
};

struct TargetRow {
  LabelSet labels;  // target, url, vantage, node
  std::uint64_t skipped = 0;
  std::uint32_t counts_begin = 0;  // range in ScrapeSnapshot::counts
  std::uint32_t counts_end = 0;
};

struct ScrapeSnapshot {
  // Every label set back to back: one allocation, returned whole when the
  // scrape ends (20,000 small strings left holes in the heap instead).
  std::string label_text;
  std::string_view labels(LabelSet set) const { return {label_text.data() + set.offset, set.size}; }
  std::vector<AddressRow> addresses;
  std::vector<TargetRow> targets;
  // The non-zero meshprobe_probes_total counts of every target, in order.
  std::vector<std::pair<Diagnosis, std::uint64_t>> counts;
};

// A per-address family: HELP/TYPE once, then `write` for every address.
struct AddressFamily {
  const char* name;
  const char* type;
  const char* help;
  void (*write)(std::string& out, const char* name, const AddressRow& a, std::string_view labels);
};

constexpr AddressFamily kAddressFamilies[] = {
    {"probe_success", "gauge", "Whether the last probe of the address succeeded (1) or failed (0).",
     [](std::string& out, const char* name, const AddressRow& a, std::string_view labels) {
       append_sample(out, name, labels, a.success ? 1 : 0);
     }},
    {"probe_duration_seconds", "gauge", "How long the last probe of the address took, in seconds.",
     [](std::string& out, const char* name, const AddressRow& a, std::string_view labels) {
       append_sample(out, name, labels, Seconds{a.duration});
     }},
    {"probe_ssl_earliest_cert_expiry", "gauge",
     "Expiry of the earliest-expiring certificate the address served, in unix seconds.",
     [](std::string& out, const char* name, const AddressRow& a, std::string_view labels) {
       if (a.earliest_expiry) append_sample(out, name, labels, unix_seconds(*a.earliest_expiry));
     }},
    {"probe_tls_version_info", "gauge",
     "The TLS version the address negotiated, in the version label.",
     [](std::string& out, const char* name, const AddressRow& a, std::string_view labels) {
       if (!a.tls_version.empty()) append_sample(out, name, labels, 1, "version", a.tls_version);
     }},
    {"probe_http_status_code", "gauge",
     "HTTP status of the last https probe of the address (0 when no status line arrived).",
     [](std::string& out, const char* name, const AddressRow& a, std::string_view labels) {
       if (a.kind == ProbeKind::https) append_sample(out, name, labels, a.http_status);
     }},
    {"meshprobe_grpc_status_info", "gauge",
     "The grpc-status of the last grpc probe's call, by canonical name in the grpc_status label "
     "(\"\" when no status came or the code is not canonical).",
     [](std::string& out, const char* name, const AddressRow& a, std::string_view labels) {
       if (a.kind == ProbeKind::grpc) {
         append_sample(out, name, labels, 1, "grpc_status", grpc_status_name(a.grpc_status));
       }
     }},
    {"meshprobe_phase_duration_seconds", "gauge",
     "How long each phase of the last probe of the address took, for the phases that ran.",
     [](std::string& out, const char* name, const AddressRow& a, std::string_view labels) {
       const PhaseDurations& p = a.phases;
       const std::optional<Duration>* took[] = {&p.resolve, &p.connect, &p.tls, &p.app};
       for (std::size_t i = 0; i < kPhases.size(); ++i) {
         if (*took[i]) {
           append_sample(out, name, labels, Seconds{**took[i]}, "phase", phase_name(kPhases[i]));
         }
       }
     }},
    {"meshprobe_diagnosis", "gauge",
     "The current diagnosis of the address (1 on its diagnosis label).",
     [](std::string& out, const char* name, const AddressRow& a, std::string_view labels) {
       append_sample(out, name, labels, 1, "diagnosis", code(a.diagnosis));
     }},
    {"meshprobe_observed_diagnosis", "gauge",
     "For a target with expect (a negative test): the diagnosis the probe itself ended in, "
     "before the expectation judged it (1 on its diagnosis label).",
     [](std::string& out, const char* name, const AddressRow& a, std::string_view labels) {
       if (a.observed) append_sample(out, name, labels, 1, "diagnosis", code(*a.observed));
     }},
    {"meshprobe_cert_remaining_seconds", "gauge",
     "Seconds from the last probe until the earliest certificate the address served expires "
     "(negative once expired).",
     [](std::string& out, const char* name, const AddressRow& a, std::string_view labels) {
       if (a.earliest_expiry) {
         append_sample(
             out, name, labels,
             Seconds{std::chrono::duration_cast<Duration>(*a.earliest_expiry - a.started_at)});
       }
     }},
    {"meshprobe_consecutive_failures", "gauge", "Failed probes of the address in a row.",
     [](std::string& out, const char* name, const AddressRow& a, std::string_view labels) {
       append_sample(out, name, labels, static_cast<double>(a.consecutive_failures));
     }},
    {"meshprobe_transitions_total", "counter", "Flips of the address between ok and failing.",
     [](std::string& out, const char* name, const AddressRow& a, std::string_view labels) {
       append_sample(out, name, labels, static_cast<double>(a.transitions));
     }},
};

struct TargetFamily {
  const char* name;
  const char* type;
  const char* help;
  void (*write)(std::string& out, const char* name, const ScrapeSnapshot& snapshot,
                const TargetRow& t);
};

constexpr TargetFamily kTargetFamilies[] = {
    {"meshprobe_probes_total", "counter",
     "Finished probes, one per address per round, by diagnosis.",
     [](std::string& out, const char* name, const ScrapeSnapshot& snapshot, const TargetRow& t) {
       for (std::uint32_t i = t.counts_begin; i < t.counts_end; ++i) {
         const auto& [diagnosis, count] = snapshot.counts[i];
         append_sample(out, name, snapshot.labels(t.labels), static_cast<double>(count),
                       "diagnosis", code(diagnosis));
       }
     }},
    {"meshprobe_probes_skipped_total", "counter",
     "Rounds not started because the previous round was still running.",
     [](std::string& out, const char* name, const ScrapeSnapshot& snapshot, const TargetRow& t) {
       append_sample(out, name, snapshot.labels(t.labels), static_cast<double>(t.skipped));
     }},
};

constexpr std::size_t kAddressFamilyCount = std::size(kAddressFamilies);
constexpr std::size_t kFamilyCount = kAddressFamilyCount + std::size(kTargetFamilies);

}  // namespace

struct Metrics::Impl {
  Impl(std::string vantage_label, std::string node_label)
      : vantage(std::move(vantage_label)),
        node(std::move(node_label)),
        registry(std::make_shared<prometheus::Registry>()),
        probe_duration(prometheus::BuildHistogram()
                           .Name("meshprobe_probe_duration_seconds")
                           .Help("Distribution of whole-probe durations, in seconds, by kind.")
                           .Register(*registry)),
        lateness(prometheus::BuildHistogram()
                     .Name("meshprobe_schedule_lateness_seconds")
                     .Help("How long after its due time each probe started, in seconds.")
                     .Register(*registry)
                     .Add({}, kLatenessBuckets)),
        in_flight(prometheus::BuildGauge()
                      .Name("meshprobe_probes_in_flight")
                      .Help("Probes running now.")
                      .Register(*registry)
                      .Add({})),
        targets(prometheus::BuildGauge()
                    .Name("meshprobe_targets")
                    .Help("Targets in the running configuration.")
                    .Register(*registry)
                    .Add({})),
        reloads(prometheus::BuildCounter()
                    .Name("meshprobe_config_reloads_total")
                    .Help("Configuration reloads, by result.")
                    .Register(*registry)),
        reload_success(reloads.Add({{"result", "success"}})),
        reload_failure(reloads.Add({{"result", "failure"}})),
        tls_resumed(prometheus::BuildCounter()
                        .Name("meshprobe_tls_resumed_total")
                        .Help("TLS handshakes that resumed a session instead of verifying the "
                              "served chain in full.")
                        .Register(*registry)
                        .Add({})),
        last_reload_successful(prometheus::BuildGauge()
                                   .Name("meshprobe_config_last_reload_successful")
                                   .Help("Whether the last configuration reload succeeded.")
                                   .Register(*registry)
                                   .Add({})) {
    for (std::size_t i = 0; i < kKinds.size(); ++i) {
      by_kind[i] = &probe_duration.Add(
          {{"kind", std::string(kind_name(kKinds[i]))}, {"vantage", vantage}, {"node", node}},
          kProbeDurationBuckets);
    }
    append_label(constant_labels, "vantage", vantage);
    append_label(constant_labels, "node", node);
    constant_labels.insert(0, ",");
    last_reload_successful.Set(1);  // the agent does not start on a bad config
    prometheus::BuildGauge()
        .Name("meshprobe_build_info")
        .Help("Always 1: the meshprobe version, vantage and node, in labels.")
        .Register(*registry)
        .Add({{"version", MESHPROBE_VERSION}, {"vantage", vantage}, {"node", node}})
        .Set(1);
  }

  // Appends to a label arena: the first label takes no comma.
  void append_target_labels(std::string& labels, const TargetState& t) const {
    labels += "target=\"";
    append_escaped_label_value(labels, t.target->name);
    labels += '"';
    append_label(labels, "url", t.target->url);
    if (t.target->vantage.empty()) {
      labels += constant_labels;
    } else {
      // Probed from elsewhere (through the API server): its own vantage.
      append_label(labels, "vantage", t.target->vantage);
      append_label(labels, "node", node);
    }
  }

  std::string vantage;
  std::string node;
  std::string constant_labels;  // ,vantage="...",node="..."
  std::shared_ptr<prometheus::Registry> registry;
  prometheus::Family<Histogram>& probe_duration;
  std::array<Histogram*, 4> by_kind{};
  Histogram& lateness;
  prometheus::Gauge& in_flight;
  prometheus::Gauge& targets;
  prometheus::Family<prometheus::Counter>& reloads;
  prometheus::Counter& reload_success;
  prometheus::Counter& reload_failure;
  prometheus::Counter& tls_resumed;
  prometheus::Gauge& last_reload_successful;
};

Metrics::Metrics(std::string vantage, std::string node_name)
    : impl_(std::make_unique<Impl>(std::move(vantage), std::move(node_name))) {}

Metrics::~Metrics() = default;

void Metrics::observe_round(const std::vector<ProbeResult>& round) {
  for (const ProbeResult& r : round) {
    impl_->by_kind[static_cast<std::size_t>(r.kind)]->Observe(seconds(r.duration));
    if (r.tls && r.tls->handshake == HandshakeKind::resumed) impl_->tls_resumed.Increment();
  }
}

void Metrics::observe_schedule_lateness(double lateness_seconds) {
  // A probe started early (jitter) is on time; a negative observation would
  // make the histogram's sum go backwards.
  impl_->lateness.Observe(std::max(0.0, lateness_seconds));
}

void Metrics::set_in_flight(int probes) { impl_->in_flight.Set(probes); }

void Metrics::set_targets(int count) { impl_->targets.Set(count); }

void Metrics::record_config_reload(bool success) {
  (success ? impl_->reload_success : impl_->reload_failure).Increment();
  impl_->last_reload_successful.Set(success ? 1 : 0);
}

namespace {

// The probe series of one scrape, family by family and row by row.
class ProbeSeriesParts final : public MetricsScrape::Parts {
 public:
  ProbeSeriesParts(ScrapeSnapshot snapshot, std::string agent_series)
      : snapshot_(std::move(snapshot)), agent_series_(std::move(agent_series)) {}

  bool done() const override { return family_ > kFamilyCount; }

  // Every address label set appears in about 14 lines.
  std::size_t size_hint() const override {
    std::size_t bytes = agent_series_.size();
    for (const AddressRow& row : snapshot_.addresses) bytes += row.labels.size * 14;
    return bytes;
  }

  void next(std::string& out, std::size_t budget) override {
    const std::size_t limit = out.size() + budget;
    while (!done() && out.size() < limit) {
      if (family_ == kFamilyCount) {  // the agent-wide series close the exposition
        out += agent_series_;
        ++family_;
      } else if (family_ < kAddressFamilyCount) {
        write_rows(out, limit, kAddressFamilies[family_], snapshot_.addresses.size(),
                   [&](const AddressFamily& f, std::size_t i) {
                     const AddressRow& row = snapshot_.addresses[i];
                     f.write(out, f.name, row, snapshot_.labels(row.labels));
                   });
      } else {
        write_rows(out, limit, kTargetFamilies[family_ - kAddressFamilyCount],
                   snapshot_.targets.size(), [&](const TargetFamily& f, std::size_t i) {
                     f.write(out, f.name, snapshot_, snapshot_.targets[i]);
                   });
      }
    }
  }

 private:
  // Continues the current family from row_ until `limit` bytes; moves to the
  // next family once every row is written.
  template <class Family, class WriteRow>
  void write_rows(std::string& out, std::size_t limit, const Family& family, std::size_t rows,
                  WriteRow write_row) {
    if (!header_written_) {
      append_metric_header(out, family.name, family.type, family.help);
      header_written_ = true;
    }
    while (row_ < rows && out.size() < limit) write_row(family, row_++);
    if (row_ == rows) {
      ++family_;
      row_ = 0;
      header_written_ = false;
    }
  }

  ScrapeSnapshot snapshot_;
  std::string agent_series_;
  std::size_t family_ = 0;
  std::size_t row_ = 0;
  bool header_written_ = false;  // of family_
};

}  // namespace

MetricsScrape Metrics::scrape(const ResultsStore& store) const {
  const auto& states = store.targets();
  ScrapeSnapshot snapshot;
  snapshot.label_text.reserve(states.size() * 256);
  snapshot.addresses.reserve(states.size());
  snapshot.targets.reserve(states.size());
  snapshot.counts.reserve(states.size());
  std::string& text = snapshot.label_text;
  const auto here = [&] { return static_cast<std::uint32_t>(text.size()); };
  for (const TargetState& t : states) {
    const std::uint32_t target_begin = here();
    impl_->append_target_labels(text, t);
    const LabelSet target_set{target_begin, here() - target_begin};
    for (const auto& [address, a] : t.addresses) {
      // The target's labels again, and the address: IP literals or empty,
      // nothing to escape.
      const std::uint32_t begin = here();
      text.append(text, target_set.offset, target_set.size);
      text.append(",address=\"").append(address).append("\"");
      const ProbeResult& last = a.last;
      AddressRow& row = snapshot.addresses.emplace_back();
      row.labels = {begin, here() - begin};
      row.kind = t.target->kind;
      row.success = last.success;
      row.diagnosis = last.diagnosis;
      row.observed = last.observed;
      row.http_status = last.http_status;
      if (last.grpc && last.grpc->status) row.grpc_status = *last.grpc->status;
      row.duration = last.duration;
      row.phases = last.phases;
      row.started_at = last.started_at;
      if (last.tls) {
        row.earliest_expiry = last.tls->earliest_expiry;
        row.tls_version = last.tls->version;
      }
      row.consecutive_failures = a.consecutive_failures;
      row.transitions = a.transitions;
    }
    TargetRow& row = snapshot.targets.emplace_back();
    row.labels = target_set;
    row.skipped = t.skipped;
    row.counts_begin = static_cast<std::uint32_t>(snapshot.counts.size());
    for (Diagnosis d : kAllDiagnoses) {
      const auto count = t.probes_by_diagnosis[static_cast<std::size_t>(d)];
      if (count > 0) snapshot.counts.emplace_back(d, count);
    }
    row.counts_end = static_cast<std::uint32_t>(snapshot.counts.size());
  }
  return MetricsScrape(std::make_unique<ProbeSeriesParts>(
      std::move(snapshot), prometheus::TextSerializer().Serialize(impl_->registry->Collect())));
}

std::string Metrics::serialize(const ResultsStore& store) const { return scrape(store).text(); }

}  // namespace meshprobe
