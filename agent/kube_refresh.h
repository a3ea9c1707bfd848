// The daemon's side of Kubernetes mode: reads the cluster now, within a
// second of any change to what it read (the reads are listed once, then
// watched: kube/client/list_watch.h), and every kubernetes.refresh from
// memory (on a worker thread, never on the event loop), hands
// each new snapshot to the agent so targets pick up changed CA bundles and
// endpoints without a restart, runs the hygiene checks, and keeps what
// /status and /metrics show about all of it.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "agent/log.h"
#include "agent/results/kube_metrics.h"
#include "agent/targets/expand.h"
#include "config/config.h"
#include "kube/connection.h"
#include "kube/hygiene_report.h"
#include "kube/hygiene_run.h"
#include "probes/prober.h"

namespace boost::asio {
class io_context;
}

namespace meshprobe {

class KubeRefresh {
 public:
  // Registers the "apiserver" delegate with `prober`. `on_snapshot` runs on
  // the io_context after each read: the agent expands its targets again.
  KubeRefresh(boost::asio::io_context& io, Prober& prober, Logger& log,
              std::unique_ptr<KubeConnection> connection, std::function<void()> on_snapshot);
  ~KubeRefresh();
  KubeRefresh(const KubeRefresh&) = delete;
  KubeRefresh& operator=(const KubeRefresh&) = delete;

  // Reads now with `config`, then every config.kubernetes.refresh. Called
  // again after a reload, with the new config.
  void configure(const Config& config);

  // Cancels the timer, the reads and the hygiene probes.
  void stop();

  // Null until the first read finished.
  const KubeSnapshot* snapshot() const { return snapshot_ ? &*snapshot_ : nullptr; }
  const KubeStatus& status() const { return status_; }
  KubeMetrics& metrics() { return metrics_; }
  const KubeMetrics& metrics() const { return metrics_; }

 private:
  void read_now();
  // A watched object changed: read again after kChangeSettle.
  void on_watched_change();
  void on_read(KubeSnapshot snapshot);
  void on_hygiene(std::uint64_t generation, HygieneReport report);
  void schedule_next();
  void record_observed(const KubeSnapshot& snapshot);

  boost::asio::io_context& io_;
  Prober& prober_;
  Logger& log_;
  std::unique_ptr<KubeConnection> connection_;
  std::function<void()> on_snapshot_;
  struct Timer;
  std::unique_ptr<Timer> timer_;
  std::optional<Config> config_;
  std::optional<KubeSnapshot> snapshot_;
  KubeStatus status_;
  KubeMetrics metrics_;
  // The FailedCreate events since this agent started: each snapshot's list
  // adds what is new, so the counters survive refreshes.
  kube::ObservedFailureLog observed_;
  std::set<std::string> logged_failures_;  // the recent failures already logged
  bool reading_ = false;
  bool read_again_ = false;           // the config changed while a read was running
  bool change_pending_ = false;       // the change timer is armed
  bool changed_during_read_ = false;  // a watched change came while reading
  bool stopping_ = false;
  std::uint64_t hygiene_generation_ = 0;
  std::vector<ProbeHandle> hygiene_probes_;
  // Callbacks from workers check it: the runtime may be gone by then.
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace meshprobe
