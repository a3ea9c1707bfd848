// A few threads for blocking work (libcurl calls to the Kubernetes API), so
// the agent's event loop never waits on the network. Jobs run in the order
// they were queued, on whichever thread is free; the destructor finishes the
// jobs already running and drops those not started.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace meshprobe::kube {

class WorkerPool {
 public:
  explicit WorkerPool(int threads);
  ~WorkerPool();
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  void post(std::function<void()> job);

  // Jobs queued and not yet started.
  std::size_t backlog() const;

 private:
  void run();

  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<std::function<void()>> jobs_;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace meshprobe::kube
