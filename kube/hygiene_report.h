// What Kubernetes mode adds to the outputs: the hygiene findings (`check`'s
// "hygiene" array, /status, metrics) and the state of the API connection.
// Plain data, so report and status rendering need no Kubernetes client.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "kube/hygiene.h"
#include "probes/result.h"

namespace meshprobe {

struct HygieneReport {
  bool ran = false;   // the checks ran (a Kubernetes connection, hygiene on)
  std::string error;  // why they could not run (e.g. the RBAC they lack)
  std::vector<kube::Finding> findings;
  // What could not be verified, and why (e.g. a caBundle whose istiod
  // endpoints did not answer): not findings, but worth a line.
  std::vector<std::string> notes;
  std::optional<WallClock::time_point> checked_at;
};

struct KubeStatus {
  std::string connection;                             // where the credentials came from
  std::optional<WallClock::time_point> last_refresh;  // the last finished read
  bool last_refresh_ok = false;
  std::vector<std::string> errors;  // what the last read could not get
  HygieneReport hygiene;
};

}  // namespace meshprobe
