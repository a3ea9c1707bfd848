// The agent's per-webhook verdicts: the join `check` makes after its round
// (kube/webhook_facts.h), made over the store's latest results, the last
// snapshot and the last hygiene report. Joined when shown (/status, / and
// /metrics), not when a round ends: a verdict is only seen when someone
// looks, rounds end many times a second on a large agent while scrapes come
// every 15 s or so, and the join over a handful of webhooks is cheap. Only
// the current verdicts are written, so a changed verdict's old series is
// gone from the next scrape.
#pragma once

#include <functional>
#include <span>
#include <string>
#include <vector>

#include "agent/results/metrics_source.h"
#include "agent/results/store.h"
#include "kube/hygiene_report.h"
#include "kube/snapshot.h"
#include "kube/webhook_verdict.h"

namespace meshprobe {

// The verdicts now; none before the first snapshot and hygiene report, or
// with the hygiene checks off (no cluster view to judge).
std::vector<kube::WebhookVerdict> current_webhook_verdicts(const ResultsStore& store,
                                                           const KubeSnapshot* snapshot,
                                                           const HygieneReport& hygiene);

// meshprobe_webhook_verdict: one series per verdict, value 1, labelled with
// its configuration, webhook and kube::verdict_code. Empty without verdicts.
std::string webhook_verdict_metrics(std::span<const kube::WebhookVerdict> verdicts);

// What /status, / and /metrics ask for the verdicts. `snapshot` returns the
// last snapshot (null before the first); `status` is the refresh's, whose
// hygiene report is the last one.
class WebhookVerdicts final : public MetricsSource {
 public:
  WebhookVerdicts(const ResultsStore& store, const KubeStatus& status,
                  std::function<const KubeSnapshot*()> snapshot)
      : store_(store), status_(status), snapshot_(std::move(snapshot)) {}

  std::vector<kube::WebhookVerdict> current() const {
    return current_webhook_verdicts(store_, snapshot_(), status_.hygiene);
  }
  MetricsScrape scrape() const override {
    return MetricsScrape::of_text(webhook_verdict_metrics(current()));
  }

 private:
  const ResultsStore& store_;
  const KubeStatus& status_;
  std::function<const KubeSnapshot*()> snapshot_;
};

}  // namespace meshprobe
