// The agent's route table: what each path of the endpoint serves, from the
// results store, the metrics sources and (Kubernetes mode) the cluster's
// status. Runs on the event loop; holds nothing of its own.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "agent/http/http_server.h"
#include "agent/results/metrics_source.h"
#include "agent/results/status_page.h"
#include "agent/results/store.h"
#include "agent/results/webhook_verdicts.h"
#include "kube/hygiene_report.h"

namespace meshprobe {

class Routes {
 public:
  Routes(const ResultsStore& store, const AgentIdentity& identity)
      : store_(store), identity_(identity) {}

  // /metrics shows the sources in the order they were added.
  void add_metrics(const MetricsSource& source) { metrics_.push_back(&source); }
  // Kubernetes mode: /status and / show the connection and the hygiene.
  // With the hygiene on, also the webhook verdicts, joined per request.
  void show_kubernetes(const KubeStatus& status, const WebhookVerdicts& verdicts) {
    kube_ = &status;
    verdicts_ = &verdicts;
  }

  // The lifecycle API (--web.enable-lifecycle): POST /-/reload runs
  // `reload`, which returns why the config was refused, or "".
  void enable_reload(std::function<std::string()> reload) { reload_ = std::move(reload); }

  HttpResponse operator()(const HttpRequest& request) const;

 private:
  HttpResponse metrics() const;
  std::vector<kube::WebhookVerdict> current_verdicts() const;
  HttpResponse reload(const HttpRequest& request) const;

  const ResultsStore& store_;
  const AgentIdentity& identity_;
  std::vector<const MetricsSource*> metrics_;
  const KubeStatus* kube_ = nullptr;
  const WebhookVerdicts* verdicts_ = nullptr;
  std::function<std::string()> reload_;
};

}  // namespace meshprobe
