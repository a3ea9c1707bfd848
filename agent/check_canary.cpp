#include "agent/check_canary.h"

#include <map>
#include <ostream>

#include "kube/connection.h"

namespace meshprobe {
namespace {

constexpr char kShippedNamespace[] =
    "deploy/kubernetes/components/apiserver-vantage/canary-namespace.yaml";

bool labelled_for_injection(const std::map<std::string, std::string>& labels) {
  const auto injection = labels.find("istio-injection");
  return (injection != labels.end() && injection->second == "enabled") ||
         labels.contains("istio.io/rev");
}

std::string label_text(const std::map<std::string, std::string>& labels) {
  std::string text;
  for (const auto& [key, value] : labels) {
    if (key == "app.kubernetes.io/name") continue;
    text += (text.empty() ? "" : ", ") + key + "=" + value;
  }
  return text;
}

}  // namespace

std::string prepare_canary(KubeConnection& kube, const CanaryOptions& options, std::ostream& err) {
  auto labels = kube.namespace_labels(options.ns);
  if (!labels) {
    err << "meshprobe check: no admission probes: cannot read namespace " << options.ns << ": "
        << labels.error().message << "\n";
    return {};
  }
  if (*labels) {
    if (!labelled_for_injection(**labels)) {
      err << "meshprobe check: namespace " << options.ns
          << " has neither istio-injection=enabled nor istio.io/rev: no injector selects it, "
             "so the injection dry run ends in injection_skipped\n";
    }
    return options.ns;
  }
  if (!options.create) {
    err << "meshprobe check: no admission probes: namespace " << options.ns
        << " does not exist (--create-canary creates it labelled for injection, or apply "
        << kShippedNamespace << ")\n";
    return {};
  }
  std::map<std::string, std::string> wanted{{"app.kubernetes.io/name", "meshprobe"}};
  if (options.revision.empty()) {
    wanted["istio-injection"] = "enabled";
  } else {
    wanted["istio.io/rev"] = options.revision;
  }
  auto created = kube.create_namespace(options.ns, wanted);
  if (!created) {
    err << "meshprobe check: no admission probes: cannot create namespace " << options.ns << ": "
        << created.error().message << "\n";
    return {};
  }
  err << "meshprobe check: created namespace " << options.ns << " (" << label_text(*created)
      << ") for the admission probes; it holds nothing (kubectl delete namespace " << options.ns
      << " removes it)\n";
  return options.ns;
}

}  // namespace meshprobe
