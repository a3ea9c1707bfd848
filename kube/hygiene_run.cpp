#include "kube/hygiene_run.h"

#include <algorithm>
#include <utility>

namespace meshprobe {

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
  if (!*snapshot.cluster) {
    report.error = snapshot.cluster->error().message;
    done(std::move(report));
    return {};
  }
  const kube::ClusterView& view = **snapshot.cluster;
  report.findings = kube::check_webhooks(view);

  struct State {
    HygieneReport report;
    std::function<void(HygieneReport)> done;
    std::vector<kube::CaCheck> checks;
    std::vector<bool> mismatched;
    std::vector<bool> verified;
    std::vector<bool> probed;
    std::size_t pending = 0;

    void finish() {
      kube::sort_findings(report.findings);
      auto complete = std::move(done);
      complete(std::move(report));
    }
  };
  auto state = std::make_shared<State>();
  state->report = std::move(report);
  state->done = std::move(done);
  state->checks = kube::ca_checks(view);
  state->mismatched.assign(state->checks.size(), false);
  state->verified.assign(state->checks.size(), false);
  state->probed.assign(state->checks.size(), false);

  std::vector<std::pair<std::size_t, std::shared_ptr<const Target>>> probes;
  for (std::size_t i = 0; i < state->checks.size(); ++i) {
    const kube::CaCheck& check = state->checks[i];
    const std::string who = check.users.front().first + " (" + check.users.front().second + ")";
    if (i >= snapshot.ca_check_endpoints.size()) break;
    const auto& endpoints = snapshot.ca_check_endpoints[i];
    if (!endpoints) {
      state->report.notes.push_back("caBundle of " + who + " not checked: " +
                                    endpoints.error().message);
      continue;
    }
    if (!*endpoints || (*endpoints)->endpoints.empty()) {
      state->report.notes.push_back("caBundle of " + who + " not checked: Service " +
                                    check.service.host() + " has no endpoints");
      continue;
    }
    auto bundle = CaBundle::from_pem(check.ca_bundle_pem, who + " caBundle");
    if (!bundle) {
      auto found = kube::ca_mismatch_findings(
          check, "the caBundle is not a PEM certificate bundle: " + bundle.error().message);
      state->report.findings.insert(state->report.findings.end(), found.begin(), found.end());
      continue;
    }
    for (Target& target : ca_check_targets(check, **endpoints, *bundle, timeout)) {
      probes.emplace_back(i, std::make_shared<const Target>(std::move(target)));
      state->probed[i] = true;
    }
  }
  if (probes.empty()) {
    state->finish();
    return {};
  }
  state->pending = probes.size();
  std::vector<ProbeHandle> handles;
  for (auto& [index, target] : probes) {
    handles.push_back(prober.probe(target, [state, i = index](std::vector<ProbeResult> results) {
      const kube::CaCheck& check = state->checks[i];
      for (const ProbeResult& result : results) {
        if (result.success) state->verified[i] = true;
        if (kube::shows_ca_mismatch(result.diagnosis) && !state->mismatched[i]) {
          state->mismatched[i] = true;
          auto found = kube::ca_mismatch_findings(check, result.address + ": " + result.message);
          state->report.findings.insert(state->report.findings.end(), found.begin(), found.end());
        }
      }
      if (--state->pending > 0) return;
      for (std::size_t c = 0; c < state->checks.size(); ++c) {
        if (!state->probed[c] || state->verified[c] || state->mismatched[c]) continue;
        // Nothing answered: the caBundle may be fine; say it went unchecked.
        state->report.notes.push_back("caBundle of " + state->checks[c].users.front().first +
                                      " not checked: no istiod endpoint of " +
                                      state->checks[c].service.host() + " completed a handshake");
      }
      state->finish();
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
