// The probe engine's entry point. Runs on the caller's io_context; never
// blocks it (name resolution runs on a small pool of its own).
#pragma once

#include <functional>
#include <memory>
#include <vector>

#include "meshprobe_version.h"
#include "probes/result.h"
#include "probes/target.h"

namespace boost::asio {
class io_context;
}

namespace meshprobe {

struct ProberOptions {
  // Threads for getaddrinfo: one hung lookup must not delay other targets.
  int resolver_threads = 4;
  // Sent by https (User-Agent) and grpc (user-agent) probes.
  std::string user_agent = "meshprobe/" MESHPROBE_VERSION;
};

// Cancels a running probe; its completion still runs, with what it has.
class ProbeHandle {
 public:
  ProbeHandle() = default;
  explicit ProbeHandle(std::shared_ptr<std::function<void()>> cancel)
      : cancel_(std::move(cancel)) {}
  void cancel() const {
    if (cancel_ && *cancel_) (*cancel_)();
  }

 private:
  std::shared_ptr<std::function<void()>> cancel_;
};

using ProbeCompletion = std::function<void(std::vector<ProbeResult>)>;

// Probes a target by other means than a connection from this host (e.g.
// through a proxy that dials the target itself). It must call `done` exactly
// once, on the prober's io_context, and honour the handle's cancel.
using ProbeDelegate = std::function<ProbeHandle(std::shared_ptr<const Target>, ProbeCompletion)>;

// Destroy a Prober only once every probe has completed: cancel the running
// ones and keep the io_context running until their completions have run.
class Prober {
 public:
  explicit Prober(boost::asio::io_context& io, ProberOptions options = {});
  ~Prober();
  Prober(const Prober&) = delete;
  Prober& operator=(const Prober&) = delete;

  // Resolves the target (unless it pins addresses), probes every address
  // concurrently, and calls `done` once on the io_context with one result
  // per address — or one result when resolution itself failed. Every wait is
  // bounded by target->timeout from the start of the probe.
  // A target whose `via` names a delegate is handed to that delegate.
  ProbeHandle probe(std::shared_ptr<const Target> target, ProbeCompletion done);

  // Registers the delegate for targets with Target::via == `via`. Targets
  // naming a delegate that was never registered fail with local_resource.
  void set_delegate(std::string via, ProbeDelegate delegate);

  // Drops every TLS session kept for resumption: the next probe of each
  // target verifies its served chain in full (after a config reload).
  void forget_tls_sessions();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace meshprobe
