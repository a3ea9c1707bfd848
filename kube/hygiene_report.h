// What Kubernetes mode adds to the outputs: the hygiene findings (`check`'s
// "hygiene" array, /status, metrics) and the state of the API connection.
// Plain data, so report and status rendering need no Kubernetes client.
#pragma once

#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "kube/hygiene.h"
#include "kube/observed_failures.h"
#include "kube/webhook_verdict.h"
#include "probes/result.h"

namespace meshprobe {

struct HygieneReport {
  bool ran = false;   // the checks ran (a Kubernetes connection, hygiene on)
  std::string error;  // why none of them could run (e.g. the API server unreachable)
  std::vector<kube::Finding> findings;
  // The checks that could not run, or ran on part of what they read, with
  // the RBAC they need; and what could not be verified (e.g. a caBundle
  // whose istiod endpoints did not answer). Not findings, but worth a line.
  std::vector<kube::CheckNote> notes;
  // The checks (kube::kHygieneCodes) that did not run on all they read:
  // meshprobe_hygiene_check_success{check} is 0 for these, 1 for the others.
  std::set<std::string> incomplete_checks;
  // Of those, the checks that did not run at all (no findings of theirs).
  std::set<std::string> skipped_checks;
  std::optional<WallClock::time_point> checked_at;
  // The webhooks (object, webhook) whose caBundle verified what istiod
  // serves: the webhook_ca_mismatch check ran on them and found nothing.
  std::set<std::pair<std::string, std::string>> ca_verified;
  // One per in-scope webhook (kube/webhook_facts.h), joined after the
  // round's probes: `check` fills it; empty elsewhere.
  std::vector<kube::WebhookVerdict> verdicts;
  // The webhook calls the API server made for real that failed, from the
  // FailedCreate events: `check` counts one list of them, the agent counts
  // since it started (KubeRefresh). Not findings: `check`'s "observed".
  kube::ObservedFailures observed;

  bool check_succeeded(std::string_view check) const {
    return ran && error.empty() && !incomplete_checks.contains(std::string(check));
  }
};

struct KubeStatus {
  std::string connection;                             // where the credentials came from
  std::optional<WallClock::time_point> last_refresh;  // the last finished read
  bool last_refresh_ok = false;
  std::vector<std::string> errors;  // what the last read could not get
  HygieneReport hygiene;
};

}  // namespace meshprobe
