#include "kube/connection.h"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include <map>
#include <mutex>
#include <stdexcept>
#include <utility>

#include "kube/admission_probe.h"
#include "kube/apiserver_proxy.h"
#include "kube/client/api_client.h"
#include "kube/client/credentials.h"
#include "kube/client/reads.h"
#include "kube/client/worker_pool.h"
#include "meshprobe_version.h"

namespace meshprobe {
namespace {

namespace asio = boost::asio;

// Threads for proxy probes: each blocks for up to its target's timeout, and
// the API server's own dial timeout is about 30 s.
constexpr int kProxyThreads = 4;

}  // namespace

struct KubeConnection::Impl {
  Impl(kube::Credentials credentials, kube::ApiClientOptions options)
      : client(std::move(credentials), std::move(options)), api(client, &stopping) {}

  std::atomic<bool> stopping{false};
  kube::ApiClient client;
  kube::KubeApi api;
  // The agent's reads: listed once, then watched (enable_watches).
  std::unique_ptr<kube::WatchCache> watches;
  // Declared last: destroyed (joined) first, while the client still exists.
  kube::WorkerPool reads{1};
  kube::WorkerPool proxies{kProxyThreads};
};

KubeConnection::KubeConnection(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

KubeConnection::~KubeConnection() { cancel_all(); }

Expected<std::unique_ptr<KubeConnection>> KubeConnection::open(
    const KubernetesConfig& config, const std::string& kubeconfig_override,
    std::function<void(std::string_view)> plugin_stderr) {
  const std::string& kubeconfig =
      kubeconfig_override.empty() ? config.kubeconfig : kubeconfig_override;
  auto credentials = kubeconfig.empty()
                         ? kube::in_cluster_credentials(kube::InClusterEnvironment::from_process())
                         : kube::load_kubeconfig(kubeconfig, config.context);
  if (!credentials) return credentials.error();
  if (credentials->exec && plugin_stderr) credentials->exec->on_stderr = std::move(plugin_stderr);
  kube::ApiClientOptions options;
  options.request_timeout = config.request_timeout;
  options.user_agent = std::string("meshprobe/") + MESHPROBE_VERSION;
  try {
    return std::unique_ptr<KubeConnection>(
        new KubeConnection(std::make_unique<Impl>(std::move(*credentials), std::move(options))));
  } catch (const std::runtime_error& error) {  // libcurl missing: see kube/detail/libcurl.h
    return Error{error.what()};
  }
}

const std::string& KubeConnection::description() const {
  return impl_->client.credentials().description;
}

void KubeConnection::cancel_all() {
  impl_->stopping = true;
  if (impl_->watches) impl_->watches->stop();
}

void KubeConnection::enable_watches(std::function<void()> on_change,
                                    const kube::WatchOptions& options) {
  impl_->watches = std::make_unique<kube::WatchCache>(impl_->client, options, std::move(on_change));
}

Expected<std::optional<std::map<std::string, std::string>>> KubeConnection::namespace_labels(
    const std::string& name) {
  auto found = impl_->api.find_namespace(name);
  if (!found) return found.error();
  if (!*found) return std::optional<std::map<std::string, std::string>>();
  return std::optional<std::map<std::string, std::string>>(std::move((*found)->labels));
}

Expected<std::map<std::string, std::string>> KubeConnection::create_namespace(
    const std::string& name, const std::map<std::string, std::string>& labels) {
  auto created = impl_->api.create_namespace(name, labels);
  if (!created) return created.error();
  return std::move(created->labels);
}

Expected<kube::MeshDiscovery> KubeConnection::mesh_discovery(const std::string& istio_namespace,
                                                             const std::string& revision) {
  return kube::read_mesh_discovery(impl_->api, istio_namespace, revision);
}

KubeSnapshot KubeConnection::read(const Config& config) {
  kube::KubeApi api(impl_->client, &impl_->stopping);
  api.give_up_when_unreachable();
  return read_snapshot(api, config);
}

void KubeConnection::read_async(Config config, asio::io_context& io,
                                std::function<void(KubeSnapshot)> done) {
  Impl* impl = impl_.get();
  impl->reads.post([impl, &io, config = std::move(config), done = std::move(done)]() mutable {
    kube::KubeApi api(impl->client, &impl->stopping);
    api.give_up_when_unreachable();
    if (impl->watches) api.serve_lists_from(impl->watches.get());
    KubeSnapshot snapshot = read_snapshot(api, config);
    if (impl->stopping) return;
    // What this read did not ask for is no longer needed (a reload dropped it).
    if (impl->watches) impl->watches->sweep();
    asio::post(io, [done = std::move(done), snapshot = std::move(snapshot)]() mutable {
      done(std::move(snapshot));
    });
  });
}

namespace {

// One probe of one address (empty: the target as a whole), blocking, on a
// worker thread.
using BlockingProbe = std::function<ProbeResult(
    kube::KubeApi&, const Target&, const std::string& address, const std::atomic<bool>* cancel)>;

// A Prober delegate that runs `probe` on `pool`: once per pinned address
// when `per_address`, else once per target; one completion on `io` once
// every run has answered.
ProbeDelegate worker_delegate(kube::KubeApi& api, kube::WorkerPool& pool, asio::io_context& io,
                              BlockingProbe probe, bool per_address) {
  auto shared = std::make_shared<const BlockingProbe>(std::move(probe));
  return [&api, &pool, &io, shared, per_address](std::shared_ptr<const Target> target,
                                                 ProbeCompletion done) {
    struct Run {
      Run(std::shared_ptr<const Target> t, ProbeCompletion d, asio::io_context& io_context)
          : target(std::move(t)), done(std::move(d)), work(asio::make_work_guard(io_context)) {}
      std::shared_ptr<const Target> target;
      ProbeCompletion done;
      // Keeps io.run() going (as `check` needs) until the completion ran.
      asio::executor_work_guard<asio::io_context::executor_type> work;
      std::atomic<bool> cancelled{false};
      std::mutex mutex;
      std::vector<ProbeResult> results;
      std::size_t pending = 0;
    };
    std::vector<std::string> addresses;
    if (per_address) addresses = target->addresses;
    if (addresses.empty()) addresses.emplace_back();  // the target as a whole
    auto run = std::make_shared<Run>(std::move(target), std::move(done), io);
    run->results.resize(addresses.size());
    run->pending = addresses.size();
    for (std::size_t i = 0; i < addresses.size(); ++i) {
      pool.post([&api, &io, shared, run, i, address = addresses[i]] {
        ProbeResult result = (*shared)(api, *run->target, address, &run->cancelled);
        bool last = false;
        {
          std::lock_guard lock(run->mutex);
          run->results[i] = std::move(result);
          last = --run->pending == 0;
        }
        if (!last) return;
        asio::post(io, [run] {
          ProbeCompletion complete = std::move(run->done);
          complete(std::move(run->results));
          run->work.reset();
        });
      });
    }
    return ProbeHandle(std::make_shared<std::function<void()>>([weak = std::weak_ptr<Run>(run)] {
      if (auto running = weak.lock()) running->cancelled = true;
    }));
  };
}

}  // namespace

ProbeDelegate KubeConnection::apiserver_delegate(asio::io_context& io) {
  return worker_delegate(impl_->api, impl_->proxies, io, kube::probe_via_apiserver, true);
}

ProbeDelegate KubeConnection::admission_delegate(asio::io_context& io, Admission mode) {
  return worker_delegate(
      impl_->api, impl_->proxies, io,
      [mode](kube::KubeApi& api, const Target& target, const std::string&,
             const std::atomic<bool>* cancel) {
        return kube::probe_admission(api, target, mode, cancel);
      },
      false);
}

void KubeConnection::register_delegates(Prober& prober, asio::io_context& io) {
  prober.set_delegate(std::string(kube::kApiserverVantage), apiserver_delegate(io));
  prober.set_delegate(std::string(kAdmissionInjectVia), admission_delegate(io, Admission::inject));
  prober.set_delegate(std::string(kAdmissionValidateVia),
                      admission_delegate(io, Admission::validate));
}

}  // namespace meshprobe
