// `check --kubeconfig` alone runs the admission targets in a canary
// namespace: one that exists already (the apiserver-vantage component ships
// it), or -- with --create-canary, and only then -- one this run creates and
// labels for injection with the user's own credentials.
#pragma once

#include <iosfwd>
#include <string>

namespace meshprobe {

class KubeConnection;

struct CanaryOptions {
  std::string ns;        // --canary-namespace
  bool create = false;   // --create-canary
  std::string revision;  // --revision: the label a created namespace gets
};

// The namespace the admission targets run in; empty when they are left out
// this run (the reason is said on `err`).
std::string prepare_canary(KubeConnection& kube, const CanaryOptions& options, std::ostream& err);

}  // namespace meshprobe
