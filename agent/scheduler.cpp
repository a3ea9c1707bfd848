#include "agent/scheduler.h"

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <algorithm>
#include <deque>
#include <queue>
#include <random>
#include <unordered_map>

#include "probes/ca_bundle.h"
#include "probes/prober.h"

namespace meshprobe {

using Clock = std::chrono::steady_clock;

std::chrono::nanoseconds stable_offset(std::string_view seed, std::string_view name,
                                       std::chrono::nanoseconds interval) {
  // FNV-1a: stable across processes and builds, unlike std::hash.
  std::uint64_t hash = 1469598103934665603ULL;
  auto mix = [&hash](std::string_view text) {
    for (unsigned char c : text) {
      hash ^= c;
      hash *= 1099511628211ULL;
    }
  };
  mix(seed);
  mix("\n");
  mix(name);
  if (interval.count() <= 0) return std::chrono::nanoseconds::zero();
  return std::chrono::nanoseconds(
      static_cast<std::int64_t>(hash % static_cast<std::uint64_t>(interval.count())));
}

std::chrono::nanoseconds max_jitter(std::chrono::nanoseconds interval) {
  return std::min<std::chrono::nanoseconds>(interval / 20, std::chrono::seconds(1));
}

namespace {

struct Entry {
  std::shared_ptr<const Target> target;
  std::chrono::nanoseconds interval;
  Clock::time_point grid;  // the round's place on the target's grid
  bool running = false;
  bool queued = false;
  bool removed = false;
  Clock::time_point due;         // grid plus the next round's jitter
  Clock::time_point queued_due;  // when the round waiting to start was due
  ProbeHandle handle;
};

struct Due {
  Clock::time_point at;
  std::shared_ptr<Entry> entry;
  bool operator>(const Due& other) const { return at > other.at; }
};

}  // namespace

struct Scheduler::Impl : std::enable_shared_from_this<Scheduler::Impl> {
  Impl(boost::asio::io_context& io_context, Prober& p, std::string s, int limit, SchedulerEvents e,
       std::uint64_t jitter_seed)
      : io(io_context),
        prober(p),
        seed(std::move(s)),
        max_concurrency(std::max(1, limit)),
        events(std::move(e)),
        timer(io_context),
        rng(jitter_seed) {}

  void set_targets(const std::vector<TargetSpec>& specs) {
    std::unordered_map<std::string, std::shared_ptr<Entry>> next;
    const auto now = Clock::now();
    for (const TargetSpec& spec : specs) {
      const std::chrono::nanoseconds interval = spec.interval;
      auto old = entries.find(spec.target->name);
      if (old != entries.end() && old->second->target->url == spec.target->url &&
          old->second->interval == interval) {
        // A new timeout waits for the next round; new trust or new addresses
        // (a caBundle swapped, an endpoint added in the cluster) are probed
        // now: that is the change the user waits to see.
        const bool probe_now = observed_change(*old->second->target, *spec.target);
        old->second->target = spec.target;
        if (probe_now) start_now(old->second);
        next.emplace(spec.target->name, old->second);
        entries.erase(old);
        continue;
      }
      auto entry = std::make_shared<Entry>();
      entry->target = spec.target;
      entry->interval = interval;
      entry->grid = now + stable_offset(seed, spec.target->name, interval);
      schedule(entry);
      next.emplace(spec.target->name, std::move(entry));
    }
    for (auto& [name, entry] : entries) entry->removed = true;  // left the config
    entries = std::move(next);
    arm_timer();
  }

  static bool observed_change(const Target& before, const Target& after) {
    const auto fingerprint = [](const Target& t) {
      return t.ca ? t.ca->fingerprint() : std::string();
    };
    return before.addresses != after.addresses || fingerprint(before) != fingerprint(after);
  }

  // An extra round out of the schedule (its grid stays), unless one is
  // running or waiting already.
  void start_now(const std::shared_ptr<Entry>& entry) {
    if (stopped || entry->running || entry->queued) return;
    entry->queued = true;
    entry->queued_due = Clock::now();
    waiting.push_back(entry);
    start_waiting();
  }

  void schedule(const std::shared_ptr<Entry>& entry) {
    const auto jitter = max_jitter(entry->interval).count();
    std::uniform_int_distribution<std::int64_t> spread(-jitter, jitter);
    entry->due = std::max(entry->grid + std::chrono::nanoseconds(spread(rng)), Clock::now());
    heap.push({entry->due, entry});
  }

  void arm_timer() {
    if (stopped || heap.empty()) return;
    if (armed_for && *armed_for <= heap.top().at) return;
    armed_for = heap.top().at;
    timer.expires_at(heap.top().at);
    timer.async_wait([weak = weak_from_this()](boost::system::error_code ec) {
      if (ec) return;
      if (auto self = weak.lock()) self->on_timer();
    });
  }

  void on_timer() {
    armed_for.reset();
    const auto now = Clock::now();
    while (!heap.empty() && heap.top().at <= now) {
      auto entry = heap.top().entry;
      const Clock::time_point due = heap.top().at;
      heap.pop();
      if (entry->removed) continue;
      entry->grid += entry->interval;
      if (entry->running || entry->queued) {
        // The previous round is still going: never overlap a target.
        if (events.round_skipped) events.round_skipped(entry->target->name);
      } else {
        entry->queued = true;
        entry->queued_due = due;
        waiting.push_back(entry);
      }
      schedule(entry);
    }
    start_waiting();
    arm_timer();
  }

  void start_waiting() {
    while (!stopped && running < max_concurrency && !waiting.empty()) {
      auto entry = std::move(waiting.front());
      waiting.pop_front();
      entry->queued = false;
      if (entry->removed) continue;
      start(entry);
    }
  }

  void start(const std::shared_ptr<Entry>& entry) {
    const auto now = Clock::now();
    if (events.started_late) {
      events.started_late(std::chrono::duration<double>(now - entry->queued_due).count());
    }
    entry->running = true;
    ++running;
    if (events.in_flight_changed) events.in_flight_changed(running);
    entry->handle = prober.probe(
        entry->target, [weak = weak_from_this(), entry](std::vector<ProbeResult> results) {
          auto self = weak.lock();
          entry->running = false;
          entry->handle = {};  // nothing left to cancel
          if (!self) return;
          --self->running;
          if (self->events.in_flight_changed) self->events.in_flight_changed(self->running);
          if (!self->stopped && !entry->removed && self->events.round_done) {
            self->events.round_done(entry->target->name, std::move(results));
          }
          self->start_waiting();
        });
  }

  void stop() {
    stopped = true;
    timer.cancel();
    waiting.clear();
    for (auto& [name, entry] : entries) {
      if (entry->running) entry->handle.cancel();
    }
  }

  boost::asio::io_context& io;
  Prober& prober;
  std::string seed;
  int max_concurrency;
  SchedulerEvents events;
  boost::asio::steady_timer timer;
  std::optional<Clock::time_point> armed_for;
  std::mt19937_64 rng;
  std::unordered_map<std::string, std::shared_ptr<Entry>> entries;
  std::priority_queue<Due, std::vector<Due>, std::greater<Due>> heap;
  std::deque<std::shared_ptr<Entry>> waiting;
  int running = 0;
  bool stopped = false;
};

Scheduler::Scheduler(boost::asio::io_context& io, Prober& prober, std::string seed,
                     int max_concurrency, SchedulerEvents events,
                     std::optional<std::uint64_t> jitter_seed)
    : impl_(std::make_shared<Impl>(io, prober, std::move(seed), max_concurrency, std::move(events),
                                   jitter_seed ? *jitter_seed : std::random_device{}())) {}

Scheduler::~Scheduler() { impl_->stop(); }

void Scheduler::set_targets(const std::vector<TargetSpec>& specs) { impl_->set_targets(specs); }

void Scheduler::stop() { impl_->stop(); }

int Scheduler::in_flight() const { return impl_->running; }

}  // namespace meshprobe
