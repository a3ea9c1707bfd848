// meshprobe's connection to the Kubernetes API, and what `check` and the
// agent do with it: read a KubeSnapshot (CA bundles, endpoints, the hygiene
// view) and probe through the API server (the "apiserver" delegate of the
// Prober). API calls block, so they run on worker threads of their own and
// hand results back on the io_context: probing never waits on the API
// server.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "common/expected.h"
#include "config/config.h"
#include "kube/client/list_watch.h"
#include "kube/mesh_config.h"
#include "kube/snapshot.h"
#include "probes/prober.h"

namespace boost::asio {
class io_context;
}

namespace meshprobe {

class KubeConnection {
 public:
  // Loads credentials: `kubeconfig_override` (--kubeconfig), else the
  // config's kubernetes.kubeconfig, else the pod's service account. Reads
  // local files only. `plugin_stderr`, when set, receives what an exec
  // credential plugin writes on its stderr (bounded; on a worker thread);
  // unset, it goes to meshprobe's stderr as `exec plugin CMD: LINE`.
  static Expected<std::unique_ptr<KubeConnection>> open(
      const KubernetesConfig& config, const std::string& kubeconfig_override,
      std::function<void(std::string_view)> plugin_stderr = {});
  ~KubeConnection();  // abandons requests in flight and joins the workers
  KubeConnection(const KubeConnection&) = delete;
  KubeConnection& operator=(const KubeConnection&) = delete;

  const std::string& description() const;

  // On the calling thread.
  KubeSnapshot read(const Config& config);

  // From now on read_async lists each path once and then watches it
  // (kube/client/list_watch.h): its reads are answered from memory, and
  // `on_change` runs (on a watch thread) when anything it read changed.
  // For the agent; `check` reads afresh every round.
  void enable_watches(std::function<void()> on_change, const kube::WatchOptions& options = {});

  // On a worker thread; `done` runs on `io`. It does not keep io.run()
  // going: a read still running at shutdown is abandoned.
  void read_async(Config config, boost::asio::io_context& io,
                  std::function<void(KubeSnapshot)> done);

  // The Prober delegate for targets with via "apiserver": one GET through
  // the API server's proxy per address (pod proxy) or per target (service
  // proxy), on worker threads; the completion runs on `io`.
  ProbeDelegate apiserver_delegate(boost::asio::io_context& io);

  // The Prober delegate for admission targets of `mode`: one dry-run create
  // through the API server per probe, on the same workers.
  ProbeDelegate admission_delegate(boost::asio::io_context& io, Admission mode);

  // Registers every delegate above under its Target::via name.
  void register_delegates(Prober& prober, boost::asio::io_context& io);

  // `check`'s canary namespace for the admission targets: its labels, or
  // nullopt when it does not exist; and --create-canary's create (a real
  // one, with the user's credentials). On the calling thread.
  Expected<std::optional<std::map<std::string, std::string>>> namespace_labels(
      const std::string& name);
  Expected<std::map<std::string, std::string>> create_namespace(
      const std::string& name, const std::map<std::string, std::string>& labels);

  // The discovery address the mesh config of `revision` gives the sidecars
  // (kube/mesh_config.h), and whether its Service exists. On the calling
  // thread.
  Expected<kube::MeshDiscovery> mesh_discovery(const std::string& istio_namespace,
                                               const std::string& revision);
  // Abandons every request in flight and refuses new ones (shutdown).
  void cancel_all();

 private:
  struct Impl;
  explicit KubeConnection(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace meshprobe
