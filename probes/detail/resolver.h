// Name resolution off the event loop. getaddrinfo blocks, and Asio's own
// resolver runs every lookup on one background thread, so one hung name would
// delay all the others: lookups here run on a small pool of detached threads,
// and a lookup's caller can stop waiting (deadline, cancel) at any time.
#pragma once

#include <boost/asio/associated_cancellation_slot.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/post.hpp>

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "probes/diagnosis.h"

namespace meshprobe::detail {

struct Resolution {
  std::vector<boost::asio::ip::address> addresses;
  Diagnosis diagnosis = Diagnosis::ok;  // ok when addresses is non-empty
  std::string message;
  bool cancelled = false;
};

// Blocking lookup of A and AAAA records, classified.
Resolution lookup(const std::string& host);

class LookupPool {
 public:
  explicit LookupPool(int threads);
  ~LookupPool();  // does not wait for lookups in progress
  LookupPool(const LookupPool&) = delete;
  LookupPool& operator=(const LookupPool&) = delete;

  // Runs lookup(host) on a pool thread, then `deliver` with its result —
  // unless the pool was destroyed meanwhile, so `deliver` may safely post to
  // an executor that outlives the pool.
  void submit(std::string host, std::function<void(Resolution)> deliver);

 private:
  struct Shared;
  std::shared_ptr<Shared> shared_;
};

// Completes with void(Resolution) on the handler's executor. Cancellation
// (e.g. a deadline timer winning `||`) completes it at once with
// `cancelled`; the lookup itself finishes unseen in the pool.
template <class Executor, class Token>
auto async_lookup(LookupPool& pool, Executor executor, std::string host, Token&& token) {
  return boost::asio::async_initiate<Token, void(Resolution)>(
      [&pool, executor](auto handler, std::string name) {
        using Handler = decltype(handler);
        struct State {
          explicit State(Handler h) : handler(std::move(h)) {}
          Handler handler;
          std::atomic<bool> done{false};
        };
        auto state = std::make_shared<State>(std::move(handler));
        auto ex = boost::asio::get_associated_executor(state->handler, executor);

        // Whoever flips `done` first (lookup or cancellation) delivers.
        auto deliver = [state, ex](Resolution r) {
          if (state->done.exchange(true)) return;
          boost::asio::post(ex, [state, r = std::move(r)]() mutable {
            auto slot = boost::asio::get_associated_cancellation_slot(state->handler);
            if (slot.is_connected()) slot.clear();
            std::move(state->handler)(std::move(r));
          });
        };

        auto slot = boost::asio::get_associated_cancellation_slot(state->handler);
        if (slot.is_connected()) {
          slot.assign([deliver](boost::asio::cancellation_type) {
            Resolution r;
            r.cancelled = true;
            deliver(std::move(r));
          });
        }
        pool.submit(std::move(name), deliver);
      },
      token, std::move(host));
}

}  // namespace meshprobe::detail
