// /status (JSON) and / (a self-contained HTML page) from the results store.
#pragma once

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
// read) and "hygiene" (the findings, as `check --output json` prints them).
std::string render_status_json(const ResultsStore& store, const AgentIdentity& identity,
                               const KubeStatus* kube = nullptr);
std::string render_status_html(const ResultsStore& store, const AgentIdentity& identity,
                               const KubeStatus* kube = nullptr);

}  // namespace meshprobe
