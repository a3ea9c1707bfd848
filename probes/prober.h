// The probe engine's entry point. Runs on the caller's io_context; never
// blocks it (name resolution runs on a small pool of its own).
#pragma once

#include <functional>
#include <memory>
#include <vector>

#include "probes/result.h"
#include "probes/target.h"

namespace boost::asio {
class io_context;
}

namespace meshprobe {

struct ProberOptions {
  // Threads for getaddrinfo: one hung lookup must not delay other targets.
  int resolver_threads = 4;
  std::string user_agent = "meshprobe";
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
  ProbeHandle probe(std::shared_ptr<const Target> target,
                    ProbeCompletion done);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace meshprobe
