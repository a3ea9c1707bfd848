#include "kube/connection.h"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include <map>
#include <mutex>
#include <stdexcept>
#include <utility>

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

void KubeConnection::cancel_all() { impl_->stopping = true; }

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
    KubeSnapshot snapshot = read_snapshot(api, config);
    if (impl->stopping) return;
    asio::post(io, [done = std::move(done), snapshot = std::move(snapshot)]() mutable {
      done(std::move(snapshot));
    });
  });
}

ProbeDelegate KubeConnection::apiserver_delegate(asio::io_context& io) {
  Impl* impl = impl_.get();
  return [impl, &io](std::shared_ptr<const Target> target, ProbeCompletion done) {
    // One run of one target: a proxy GET per address, all on the workers,
    // one completion on the io_context once every GET has answered.
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
    std::vector<std::string> addresses = target->addresses;
    if (addresses.empty()) addresses.emplace_back();  // the service proxy
    auto run = std::make_shared<Run>(std::move(target), std::move(done), io);
    run->results.resize(addresses.size());
    run->pending = addresses.size();
    for (std::size_t i = 0; i < addresses.size(); ++i) {
      impl->proxies.post([impl, run, i, address = addresses[i], &io] {
        ProbeResult result =
            kube::probe_via_apiserver(impl->api, *run->target, address, &run->cancelled);
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

}  // namespace meshprobe
