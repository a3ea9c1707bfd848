// /status (JSON) and / (a self-contained HTML page) from the results store.
#pragma once

#include <span>
#include <string>

#include "agent/results/store.h"
#include "kube/hygiene_report.h"

namespace meshprobe {

struct AgentIdentity {
  std::string vantage;
  std::string node_name;
  std::string version;
  std::string config_source;
};

// `kube` (Kubernetes mode) adds "kubernetes" (the connection and its last
// read), "hygiene" (the findings) and "verdicts" (`verdicts`, the agent's
// per-webhook verdicts: agent/results/webhook_verdicts.h), both as `check
// --output json` prints them; the page gains their sections.
std::string render_status_json(const ResultsStore& store, const AgentIdentity& identity,
                               const KubeStatus* kube = nullptr,
                               std::span<const kube::WebhookVerdict> verdicts = {});
std::string render_status_html(const ResultsStore& store, const AgentIdentity& identity,
                               const KubeStatus* kube = nullptr,
                               std::span<const kube::WebhookVerdict> verdicts = {});

}  // namespace meshprobe
