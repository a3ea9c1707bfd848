#include "agent/kube_session.h"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include <map>
#include <mutex>
#include <stdexcept>
#include <utility>

#include "kube/api_client.h"
#include "kube/apiserver_proxy.h"
#include "kube/ca_sources.h"
#include "kube/credentials.h"
#include "kube/kube_api.h"
#include "kube/worker_pool.h"
#include "meshprobe_version.h"

namespace meshprobe {
namespace {

namespace asio = boost::asio;

// Threads for proxy probes: each blocks for up to its target's timeout, and
// the API server's own dial timeout is about 30 s.
constexpr int kProxyThreads = 4;

kube::CaSourceRef source_ref(const CaBundleSource& source) {
  kube::CaSourceRef ref;
  switch (source.kind) {
    case CaSourceKind::mutating_webhook:
      ref.kind = kube::CaSourceRef::Kind::mutating_webhook;
      break;
    case CaSourceKind::validating_webhook:
      ref.kind = kube::CaSourceRef::Kind::validating_webhook;
      break;
    default:
      ref.kind = kube::CaSourceRef::Kind::configmap;
      break;
  }
  ref.name = source.object_name;
  ref.webhook = source.webhook;
  ref.ns = source.object_namespace;
  ref.key = source.key;
  return ref;
}

Expected<std::shared_ptr<const CaBundle>> read_bundle(kube::KubeApi& api,
                                                      const CaBundleSource& source) {
  auto fetched = kube::fetch_ca(api, source_ref(source));
  if (!fetched) return fetched.error();
  // No caBundle: the API server trusts nothing for this webhook, and the
  // probe verifying "as the API server would" must not either.
  if (fetched->pem.empty()) {
    return CaBundle::empty(fetched->source + " (empty: the webhook has no caBundle)");
  }
  return CaBundle::from_pem(fetched->pem, fetched->source);
}

// Reads each Service and its slices once per snapshot, however many targets
// and webhooks name it: a fleet of agents multiplies every request.
class ServiceReader {
 public:
  explicit ServiceReader(kube::KubeApi& api) : api_(api) {}

  Expected<DiscoveredService> discover(const kube::ServiceName& name, std::uint16_t port) {
    const auto& data = service(name);
    if (!data) return data.error();
    DiscoveredService found;
    found.service = name;
    if (!*data) return found;  // does not exist
    found.exists = true;
    auto endpoints = kube::endpoints_of((*data)->service, port, (*data)->slices);
    if (!endpoints) return endpoints.error();
    found.endpoints = std::move(*endpoints);
    return found;
  }

 private:
  struct ServiceData {
    kube::Service service;
    std::vector<kube::EndpointSlice> slices;
  };
  using Entry = Expected<std::optional<ServiceData>>;

  const Entry& service(const kube::ServiceName& name) {
    const auto key = std::make_pair(name.ns, name.name);
    if (auto cached = cache_.find(key); cached != cache_.end()) return cached->second;
    return cache_.emplace(key, load(name)).first->second;
  }

  Entry load(const kube::ServiceName& name) {
    auto service = api_.get_service(name.ns, name.name);
    if (!service) return service.error();
    if (!*service) return std::optional<ServiceData>();
    auto slices = api_.list_endpoint_slices(name.ns, name.name);
    if (!slices) return slices.error();
    return std::optional<ServiceData>(ServiceData{std::move(**service), std::move(*slices)});
  }

  kube::KubeApi& api_;
  std::map<std::pair<std::string, std::string>, Entry> cache_;
};

Expected<std::vector<DiscoveredService>> discover(ServiceReader& reader, kube::KubeApi& api,
                                                  const TargetConfig& tc) {
  const auto service = kube::parse_service_host(tc.target->host);
  if (!service) return Error{tc.target->host + " is not a Service host"};
  std::vector<DiscoveredService> found;
  if (tc.discover == Discovery::endpoints) {
    auto one = reader.discover(*service, tc.target->port);
    if (!one) return one.error();
    found.push_back(std::move(*one));
    return found;
  }
  auto names = kube::revision_services(api, service->ns, service->name);
  if (!names) return names.error();
  for (const std::string& name : *names) {
    const kube::ServiceName revision{name, service->ns};
    if (tc.via == Via::apiserver) {
      // The API server finds the endpoints itself.
      found.push_back({revision, true, {}});
      continue;
    }
    auto one = reader.discover(revision, tc.target->port);
    if (!one) return one.error();
    found.push_back(std::move(*one));
  }
  return found;
}

}  // namespace

KubeSnapshot read_snapshot(kube::KubeApi& api, const Config& config) {
  KubeSnapshot snapshot;
  snapshot.read_at = WallClock::now();
  for (const CaBundleSource& source : config.ca_bundles) {
    if (from_kubernetes(source.kind)) snapshot.bundles.emplace(source.name, read_bundle(api, source));
  }
  ServiceReader reader(api);
  for (const TargetConfig& tc : config.targets) {
    if (tc.discover == Discovery::none) continue;
    snapshot.discoveries.emplace(tc.target->name, discover(reader, api, tc));
  }
  if (config.kubernetes.hygiene) {
    snapshot.cluster = kube::read_cluster_view(api, config.kubernetes.istio_namespace);
    if (*snapshot.cluster) {
      for (const kube::CaCheck& check : kube::ca_checks(**snapshot.cluster)) {
        auto found = reader.discover(check.service, check.port);
        if (!found) {
          snapshot.ca_check_endpoints.emplace_back(found.error());
        } else if (!found->exists) {
          snapshot.ca_check_endpoints.emplace_back(std::optional<kube::ServiceEndpoints>());
        } else {
          snapshot.ca_check_endpoints.emplace_back(
              std::optional<kube::ServiceEndpoints>(std::move(found->endpoints)));
        }
      }
    }
  }
  return snapshot;
}

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
    const KubernetesConfig& config, const std::string& kubeconfig_override) {
  const std::string& kubeconfig =
      kubeconfig_override.empty() ? config.kubeconfig : kubeconfig_override;
  auto credentials = kubeconfig.empty()
                         ? kube::in_cluster_credentials(kube::InClusterEnvironment::from_process())
                         : kube::load_kubeconfig(kubeconfig, config.context);
  if (!credentials) return credentials.error();
  kube::ApiClientOptions options;
  options.request_timeout = config.request_timeout;
  options.user_agent = std::string("meshprobe/") + MESHPROBE_VERSION;
  try {
    return std::unique_ptr<KubeConnection>(new KubeConnection(
        std::make_unique<Impl>(std::move(*credentials), std::move(options))));
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
        ProbeResult result = kube::probe_via_apiserver(impl->api, *run->target, address,
                                                       &run->cancelled);
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
    return ProbeHandle(std::make_shared<std::function<void()>>(
        [weak = std::weak_ptr<Run>(run)] {
          if (auto running = weak.lock()) running->cancelled = true;
        }));
  };
}

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

}  // namespace meshprobe
