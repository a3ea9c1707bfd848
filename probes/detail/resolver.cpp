#include "probes/detail/resolver.h"

#include <netdb.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <thread>

#include "probes/detail/socket_errors.h"

namespace meshprobe::detail {

Resolution lookup(const std::string& host) {
  Resolution out;
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* list = nullptr;
  const int rc = getaddrinfo(host.c_str(), nullptr, &hints, &list);
  const int saved_errno = errno;
  if (rc != 0) {
    switch (rc) {
      case EAI_NONAME:
        out.diagnosis = Diagnosis::dns_not_found;
        out.message = "NXDOMAIN: the name " + host + " does not exist";
        break;
#ifdef EAI_NODATA
      case EAI_NODATA:
        out.diagnosis = Diagnosis::dns_not_found;
        out.message = "the name " + host + " exists but has no A or AAAA record";
        break;
#endif
      case EAI_AGAIN:
        out.diagnosis = Diagnosis::dns_failure;
        out.message = "the resolver failed for " + host +
                      " (SERVFAIL, or no answer before the resolver's timeout)";
        break;
      case EAI_MEMORY:
        out.diagnosis = Diagnosis::local_resource;
        out.message = "out of memory resolving " + host;
        break;
      case EAI_SYSTEM:
        out.diagnosis = is_local_resource_error(saved_errno) ? Diagnosis::local_resource
                                                             : Diagnosis::dns_failure;
        out.message = "resolving " + host + ": " + std::strerror(saved_errno);
        break;
      default:
        out.diagnosis = Diagnosis::dns_failure;
        out.message = "resolving " + host + ": " + gai_strerror(rc);
        break;
    }
    return out;
  }
  for (addrinfo* ai = list; ai != nullptr; ai = ai->ai_next) {
    boost::asio::ip::address address;
    if (ai->ai_family == AF_INET) {
      boost::asio::ip::address_v4::bytes_type bytes;
      std::memcpy(bytes.data(), &reinterpret_cast<const sockaddr_in*>(ai->ai_addr)->sin_addr,
                  bytes.size());
      address = boost::asio::ip::address_v4(bytes);
    } else if (ai->ai_family == AF_INET6) {
      const auto* in6 = reinterpret_cast<const sockaddr_in6*>(ai->ai_addr);
      boost::asio::ip::address_v6::bytes_type bytes;
      std::memcpy(bytes.data(), &in6->sin6_addr, bytes.size());
      address = boost::asio::ip::address_v6(bytes, in6->sin6_scope_id);
    } else {
      continue;
    }
    if (std::find(out.addresses.begin(), out.addresses.end(), address) == out.addresses.end()) {
      out.addresses.push_back(address);
    }
  }
  freeaddrinfo(list);
  if (out.addresses.empty()) {
    out.diagnosis = Diagnosis::dns_not_found;
    out.message = "the name " + host + " has no usable address";
  }
  return out;
}

struct LookupPool::Shared {
  std::mutex mutex;
  std::condition_variable wake;
  struct Job {
    std::string host;
    std::function<void(Resolution)> deliver;
  };
  std::deque<Job> jobs;
  bool stopping = false;
};

LookupPool::LookupPool(int threads) : shared_(std::make_shared<Shared>()) {
  for (int i = 0; i < std::max(1, threads); ++i) {
    // Detached on purpose: a lookup stuck in getaddrinfo must not hold up
    // shutdown. Each worker keeps the shared queue alive until it leaves.
    std::thread([shared = shared_] {
      std::unique_lock lock(shared->mutex);
      for (;;) {
        shared->wake.wait(lock, [&] { return shared->stopping || !shared->jobs.empty(); });
        if (shared->stopping) return;
        auto job = std::move(shared->jobs.front());
        shared->jobs.pop_front();
        lock.unlock();
        Resolution result = lookup(job.host);
        lock.lock();
        if (shared->stopping) return;
        job.deliver(std::move(result));
        job.deliver = nullptr;  // release captured state before sleeping
      }
    }).detach();
  }
}

LookupPool::~LookupPool() {
  std::lock_guard lock(shared_->mutex);
  shared_->stopping = true;
  shared_->jobs.clear();
  shared_->wake.notify_all();
}

void LookupPool::submit(std::string host, std::function<void(Resolution)> deliver) {
  std::lock_guard lock(shared_->mutex);
  shared_->jobs.push_back({std::move(host), std::move(deliver)});
  shared_->wake.notify_one();
}

}  // namespace meshprobe::detail
