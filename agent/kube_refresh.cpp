#include "agent/kube_refresh.h"

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include <set>

#include "kube/apiserver_proxy.h"

namespace meshprobe {
namespace {

// What a snapshot could not read, one line each, for /status and the log.
std::vector<std::string> snapshot_errors(const KubeSnapshot& snapshot) {
  std::vector<std::string> errors;
  for (const auto& [name, bundle] : snapshot.bundles) {
    if (!bundle) errors.push_back("CA bundle \"" + name + "\": " + bundle.error().message);
  }
  for (const auto& [target, discovery] : snapshot.discoveries) {
    if (!discovery) errors.push_back("target \"" + target + "\": " + discovery.error().message);
  }
  if (snapshot.cluster) {
    for (const auto& [read, why] : snapshot.cluster->unread) errors.push_back("hygiene: " + why);
  }
  if (snapshot.control_plane) {
    for (const std::string& why : snapshot.control_plane->unread) {
      errors.push_back("control plane: " + why);
    }
  }
  return errors;
}

std::string finding_key(const kube::Finding& finding) {
  return finding.code + "\n" + finding.object + "\n" + finding.webhook;
}

}  // namespace

// How long a change waits for the changes that come with it (a rollout
// updates many objects): they make one read, still within a second.
constexpr auto kChangeSettle = std::chrono::milliseconds(300);

struct KubeRefresh::Timer {
  explicit Timer(boost::asio::io_context& io) : timer(io), change(io) {}
  boost::asio::steady_timer timer;
  boost::asio::steady_timer change;  // kChangeSettle after a watched change
};

KubeRefresh::KubeRefresh(boost::asio::io_context& io, Prober& prober, Logger& log,
                         std::unique_ptr<KubeConnection> connection,
                         std::function<void()> on_snapshot)
    : io_(io),
      prober_(prober),
      log_(log),
      connection_(std::move(connection)),
      on_snapshot_(std::move(on_snapshot)),
      timer_(std::make_unique<Timer>(io)) {
  status_.connection = connection_->description();
  connection_->register_delegates(prober_, io);
  // The agent lists once and then watches: a change reads the snapshot
  // again from memory, and the refresh timer costs the API server nothing.
  connection_->enable_watches([this, &io, alive = std::weak_ptr<bool>(alive_)] {
    boost::asio::post(io, [this, alive] {
      if (auto still = alive.lock(); still && *still) on_watched_change();
    });
  });
}

void KubeRefresh::on_watched_change() {
  if (stopping_ || !config_) return;
  if (reading_) {
    changed_during_read_ = true;
    return;
  }
  if (change_pending_) return;
  change_pending_ = true;
  timer_->change.expires_after(kChangeSettle);
  timer_->change.async_wait(
      [this, alive = std::weak_ptr<bool>(alive_)](boost::system::error_code ec) {
        if (ec) return;
        if (auto still = alive.lock(); still && *still) {
          change_pending_ = false;
          if (!reading_) read_now();
        }
      });
}

KubeRefresh::~KubeRefresh() {
  *alive_ = false;
  stop();
}

void KubeRefresh::configure(const Config& config) {
  config_ = config;
  if (reading_) {
    read_again_ = true;
    return;
  }
  read_now();
}

void KubeRefresh::stop() {
  stopping_ = true;
  timer_->timer.cancel();
  timer_->change.cancel();
  for (const ProbeHandle& probe : hygiene_probes_) probe.cancel();
  connection_->cancel_all();
}

void KubeRefresh::read_now() {
  if (stopping_ || !config_) return;
  timer_->timer.cancel();
  timer_->change.cancel();
  change_pending_ = false;
  changed_during_read_ = false;
  reading_ = true;
  connection_->read_async(*config_, io_,
                          [this, alive = std::weak_ptr<bool>(alive_)](KubeSnapshot snapshot) {
                            if (auto still = alive.lock(); still && *still)
                              on_read(std::move(snapshot));
                          });
}

void KubeRefresh::on_read(KubeSnapshot snapshot) {
  reading_ = false;
  if (stopping_) return;
  if (read_again_) {
    // Read with a config that has since changed: its answers may not cover
    // the new one. Read again at once.
    read_again_ = false;
    read_now();
    return;
  }
  std::vector<std::string> errors = snapshot_errors(snapshot);
  metrics_.record_refresh(errors.empty(), snapshot.read_at);
  if (errors != status_.errors) {
    for (const std::string& error : errors) log_.warn("kubernetes_read_failed", {{"error", error}});
    if (errors.empty() && !status_.errors.empty()) log_.info("kubernetes_read_recovered");
  }
  status_.errors = std::move(errors);
  status_.last_refresh = snapshot.read_at;
  status_.last_refresh_ok = status_.errors.empty();
  record_observed(snapshot);
  snapshot_ = std::move(snapshot);
  on_snapshot_();

  const std::uint64_t generation = ++hygiene_generation_;
  hygiene_probes_ =
      run_hygiene(prober_, *snapshot_, config_->default_timeout,
                  [this, generation, alive = std::weak_ptr<bool>(alive_)](HygieneReport report) {
                    if (auto still = alive.lock(); still && *still) {
                      on_hygiene(generation, std::move(report));
                    }
                  });
  schedule_next();
  // A change that arrived while this read ran may not be in it.
  if (changed_during_read_) {
    changed_during_read_ = false;
    on_watched_change();
  }
}

void KubeRefresh::on_hygiene(std::uint64_t generation, HygieneReport report) {
  if (generation != hygiene_generation_ || stopping_) return;  // a newer run superseded it
  hygiene_probes_.clear();
  // Log what changed: a finding once when it appears, once when it goes.
  std::set<std::string> before;
  for (const kube::Finding& finding : status_.hygiene.findings) before.insert(finding_key(finding));
  std::set<std::string> now;
  for (const kube::Finding& finding : report.findings) {
    now.insert(finding_key(finding));
    if (before.count(finding_key(finding)) == 0) {
      log_.warn("hygiene_finding", {{"code", finding.code},
                                    {"object", finding.object},
                                    {"webhook", finding.webhook},
                                    {"message", finding.message}});
    }
  }
  for (const kube::Finding& finding : status_.hygiene.findings) {
    if (now.count(finding_key(finding)) == 0) {
      log_.info("hygiene_resolved",
                {{"code", finding.code}, {"object", finding.object}, {"webhook", finding.webhook}});
    }
  }
  if (report.error != status_.hygiene.error && !report.error.empty()) {
    log_.warn("hygiene_unavailable", {{"error", report.error}});
  }
  metrics_.set_hygiene(report);
  // The run counted one list; the agent's counters span every list.
  report.observed = observed_.failures();
  status_.hygiene = std::move(report);
}

void KubeRefresh::record_observed(const KubeSnapshot& snapshot) {
  record_failed_creates(observed_, snapshot);
  const kube::ObservedFailures& observed = observed_.failures();
  metrics_.set_observed(observed);
  status_.hygiene.observed = observed;
  // A line for each of the newest failures once, and again when its count grows.
  std::set<std::string> current;
  for (const kube::ObservedFailure& failure : observed.recent) {
    std::string key = failure.object + " " + failure.time + " " + std::to_string(failure.count);
    if (!logged_failures_.contains(key)) {
      log_.warn("webhook_call_failed", {{"object", failure.object},
                                        {"webhook", failure.webhook},
                                        {"diagnosis", code(failure.diagnosis)},
                                        {"time", failure.time},
                                        {"message", failure.message}});
    }
    current.insert(std::move(key));
  }
  logged_failures_ = std::move(current);
}

void KubeRefresh::schedule_next() {
  if (stopping_ || !config_) return;
  timer_->timer.expires_after(config_->kubernetes.refresh);
  timer_->timer.async_wait(
      [this, alive = std::weak_ptr<bool>(alive_)](boost::system::error_code ec) {
        if (ec) return;
        if (auto still = alive.lock(); still && *still) read_now();
      });
}

}  // namespace meshprobe
