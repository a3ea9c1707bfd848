// The agent's route table: what each path of the endpoint serves, from the
// results store, the metrics sources and (Kubernetes mode) the cluster's
// status. Runs on the event loop; holds nothing of its own.
#pragma once

#include <vector>

#include "agent/http/http_server.h"
#include "agent/results/metrics_source.h"
#include "agent/results/status_page.h"
#include "agent/results/store.h"
#include "kube/hygiene_report.h"

namespace meshprobe {

class Routes {
 public:
  Routes(const ResultsStore& store, const AgentIdentity& identity)
      : store_(store), identity_(identity) {}

  // /metrics shows the sources in the order they were added.
  void add_metrics(const MetricsSource& source) { metrics_.push_back(&source); }
  // Kubernetes mode: /status and / show the connection and the hygiene.
  void show_kubernetes(const KubeStatus& status) { kube_ = &status; }

  HttpResponse operator()(const HttpRequest& request) const;

 private:
  HttpResponse metrics() const;

  const ResultsStore& store_;
  const AgentIdentity& identity_;
  std::vector<const MetricsSource*> metrics_;
  const KubeStatus* kube_ = nullptr;
};

}  // namespace meshprobe
