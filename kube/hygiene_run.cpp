#include "kube/hygiene_run.h"

#include <algorithm>
#include <utility>

namespace meshprobe {

namespace {

// One run of the CA-mismatch probes: a TLS handshake with each endpoint of
// each caBundle's Service, verified against that caBundle. A caBundle is
// mismatched when a handshake shows it does not verify istiod's chain,
// verified when one passes, and unchecked when nothing answered.
class CaCheckRun : public std::enable_shared_from_this<CaCheckRun> {
 public:
  CaCheckRun(HygieneReport report, std::vector<kube::CaCheck> checks,
             std::function<void(HygieneReport)> done)
      : report_(std::move(report)),
        done_(std::move(done)),
        checks_(std::move(checks)),
        outcomes_(checks_.size()) {}

  // The probes of every check that has endpoints; the others get a note.
  std::vector<std::pair<std::size_t, std::shared_ptr<const Target>>> plan(
      const KubeSnapshot& snapshot, std::chrono::milliseconds timeout) {
    std::vector<std::pair<std::size_t, std::shared_ptr<const Target>>> probes;
    for (std::size_t i = 0; i < checks_.size() && i < snapshot.ca_check_endpoints.size(); ++i) {
      const kube::CaCheck& check = checks_[i];
      const std::string who = check.users.front().first + " (" + check.users.front().second + ")";
      const auto& endpoints = snapshot.ca_check_endpoints[i];
      if (!endpoints) {
        // A read that failed (RBAC on the Service or its slices): the check
        // did not run on everything.
        report_.incomplete_checks.insert(std::string(kube::kCaMismatch));
        note("caBundle of " + who + " not checked: " + endpoints.error().message,
             kube::check_rbac(kube::kCaMismatch, check.service.ns));
        continue;
      }
      if (!*endpoints || (*endpoints)->endpoints.empty()) {
        note("caBundle of " + who + " not checked: Service " + check.service.host() +
             " has no endpoints");
        continue;
      }
      auto bundle = CaBundle::from_pem(check.ca_bundle_pem, who + " caBundle");
      if (!bundle) {
        add(kube::ca_mismatch_findings(
            check, "the caBundle is not a PEM certificate bundle: " + bundle.error().message));
        continue;
      }
      for (Target& target : ca_check_targets(check, **endpoints, *bundle, timeout)) {
        probes.emplace_back(i, std::make_shared<const Target>(std::move(target)));
        outcomes_[i].probed = true;
      }
    }
    pending_ = probes.size();
    return probes;
  }

  void on_results(std::size_t i, const std::vector<ProbeResult>& results) {
    Outcome& outcome = outcomes_[i];
    for (const ProbeResult& result : results) {
      if (result.success) outcome.verified = true;
      if (kube::shows_ca_mismatch(result.diagnosis) && !outcome.mismatched) {
        outcome.mismatched = true;
        add(kube::ca_mismatch_findings(checks_[i], result.address + ": " + result.message));
      }
    }
    if (--pending_ == 0) finish();
  }

  void finish() {
    for (std::size_t c = 0; c < checks_.size(); ++c) {
      const Outcome& outcome = outcomes_[c];
      if (outcome.verified && !outcome.mismatched) {
        report_.ca_verified.insert(checks_[c].users.begin(), checks_[c].users.end());
      }
      if (!outcome.probed || outcome.verified || outcome.mismatched) continue;
      // Nothing answered: the caBundle may be fine; say it went unchecked.
      note("caBundle of " + checks_[c].users.front().first +
           " not checked: no istiod endpoint of " + checks_[c].service.host() +
           " completed a handshake");
    }
    kube::sort_findings(report_.findings);
    auto done = std::move(done_);
    done(std::move(report_));
  }

 private:
  struct Outcome {
    bool probed = false;
    bool verified = false;
    bool mismatched = false;
  };

  void note(std::string message, std::vector<std::string> rbac = {}) {
    report_.notes.push_back({std::string(kube::kCaMismatch), std::move(message), std::move(rbac)});
  }

  void add(const std::vector<kube::Finding>& found) {
    report_.findings.insert(report_.findings.end(), found.begin(), found.end());
  }

  HygieneReport report_;
  std::function<void(HygieneReport)> done_;
  std::vector<kube::CaCheck> checks_;
  std::vector<Outcome> outcomes_;
  std::size_t pending_ = 0;
};

}  // namespace

std::vector<ProbeHandle> run_hygiene(Prober& prober, const KubeSnapshot& snapshot,
                                     std::chrono::milliseconds timeout,
                                     std::function<void(HygieneReport)> done) {
  HygieneReport report;
  report.checked_at = snapshot.read_at;
  if (!snapshot.cluster) {
    done(std::move(report));
    return {};
  }
  report.ran = true;
  kube::ObservedFailureLog observed;
  record_failed_creates(observed, snapshot);
  report.observed = observed.failures();
  const kube::ClusterView& view = *snapshot.cluster;
  report.notes = kube::incomplete_check_notes(view);
  bool any_ran = false;
  for (const kube::HygieneCheck& check : kube::hygiene_checks()) {
    if (!kube::check_complete(view, check.name)) report.incomplete_checks.emplace(check.name);
    const bool runs = kube::check_runs(view, check.name);
    if (!runs) report.skipped_checks.emplace(check.name);
    any_ran = any_ran || runs;
  }
  if (!any_ran) {
    // Nothing could be read (the API server unreachable, credentials refused).
    report.error = view.unread.begin()->second;
    done(std::move(report));
    return {};
  }
  report.findings = kube::check_webhooks(view);
  auto run =
      std::make_shared<CaCheckRun>(std::move(report), kube::ca_checks(view), std::move(done));
  const auto probes = run->plan(snapshot, timeout);
  if (probes.empty()) {
    run->finish();
    return {};
  }
  std::vector<ProbeHandle> handles;
  for (const auto& [index, target] : probes) {
    handles.push_back(prober.probe(target, [run, i = index](std::vector<ProbeResult> results) {
      run->on_results(i, results);
    }));
  }
  return handles;
}

std::vector<Target> ca_check_targets(const kube::CaCheck& check,
                                     const kube::ServiceEndpoints& endpoints,
                                     std::shared_ptr<const CaBundle> ca,
                                     std::chrono::milliseconds timeout) {
  std::vector<Target> targets;
  for (const kube::DiscoveredEndpoint& endpoint : endpoints.endpoints) {
    auto same_port = std::find_if(targets.begin(), targets.end(),
                                  [&](const Target& t) { return t.port == endpoint.port; });
    if (same_port == targets.end()) {
      Target target;
      target.kind = ProbeKind::tls;
      target.host = check.service.host();
      target.server_name = check.service.host();
      target.port = endpoint.port;
      target.url = "tls://" + check.service.host() + ":" + std::to_string(check.port);
      target.name = "hygiene:" + target.url;
      target.ca = ca;
      target.timeout = timeout;
      targets.push_back(std::move(target));
      same_port = std::prev(targets.end());
    }
    same_port->addresses.push_back(endpoint.address);
    same_port->address_labels[endpoint.address] = endpoint_labels(endpoint);
  }
  return targets;
}

}  // namespace meshprobe
