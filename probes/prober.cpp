// The engine's entry point: one ProbeRun per probe, which resolves once, then
// runs one Attempt per address (attempt.h) and delivers their results
// together. Shared holds what all probes of a Prober share.
#include "probes/prober.h"

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "probes/attempt.h"
#include "probes/ca_bundle.h"
#include "probes/detail/resolver.h"
#include "probes/shared.h"

namespace meshprobe {
namespace detail {

namespace asio = boost::asio;
using boost::system::error_code;

namespace {

// ALPN offers, in wire format.
constexpr std::string_view kAlpnHttp11{"\x08http/1.1", 9};
constexpr std::string_view kAlpnH2{"\x02h2", 3};

}  // namespace

Shared::Shared(asio::io_context& io_context, ProberOptions opts)
    : io(io_context),
      options(std::move(opts)),
      lookups(options.resolver_threads),
      tls_plain(make_tls_context({})),
      tls_http11(make_tls_context(kAlpnHttp11)),
      tls_h2(make_tls_context(kAlpnH2)) {}

asio::ssl::context& Shared::tls_context(ProbeKind kind) {
  if (kind == ProbeKind::https) return *tls_http11;
  if (kind == ProbeKind::grpc) return *tls_h2;
  return *tls_plain;
}

const CaBundle* Shared::system_trust() {
  if (!system_bundle) {
    auto bundle = CaBundle::system();
    if (bundle) system_bundle = *bundle;
  }
  return system_bundle.get();
}

namespace {

// One probe of one target: resolution, then its attempts, then one callback.
class ProbeRun : public std::enable_shared_from_this<ProbeRun> {
 public:
  ProbeRun(Shared& shared, std::shared_ptr<const Target> target, ProbeCompletion done)
      : shared_(shared),
        target_(std::move(target)),
        done_(std::move(done)),
        resolve_timer_(shared.io) {}

  void start() {
    started_ = SteadyClock::now();
    deadline_ = started_ + target_->timeout;
    base_ = result_for(*target_);
    asio::co_spawn(shared_.io, resolve_and_probe(),
                   [self = shared_from_this()](std::exception_ptr) {});
  }

  void cancel() {
    cancelled_ = true;
    resolve_cancel_.emit(asio::cancellation_type::terminal);
    for (auto& weak : attempts_) {
      if (auto attempt = weak.lock()) attempt->cancel();
    }
  }

 private:
  asio::awaitable<void> resolve_and_probe() {
    std::vector<asio::ip::address> addresses;
    if (!co_await resolve(addresses)) co_return;
    pending_ = addresses.size();
    results_.resize(addresses.size());
    for (std::size_t i = 0; i < addresses.size(); ++i) {
      auto attempt =
          std::make_shared<Attempt>(shared_, target_, addresses[i], started_, deadline_, base_);
      attempts_.push_back(attempt);
      asio::co_spawn(shared_.io, attempt->run(),
                     [self = shared_from_this(), attempt, i](std::exception_ptr) {
                       self->results_[i] = attempt->take_result();
                       if (--self->pending_ == 0) self->deliver();
                     });
    }
  }

  // Fills `addresses`; on failure delivers the single failed result.
  asio::awaitable<bool> resolve(std::vector<asio::ip::address>& addresses) {
    const auto resolve_started = SteadyClock::now();
    auto fail = [&](Diagnosis diagnosis, std::string message) {
      ProbeResult r = base_;
      r.diagnosis = diagnosis;
      r.failed_phase = Phase::resolve;
      r.message = std::move(message);
      r.cancelled = cancelled_;
      r.phases.resolve = SteadyClock::now() - resolve_started;
      r.duration = SteadyClock::now() - started_;
      results_.push_back(std::move(r));
      deliver();
      return false;
    };

    for (const std::string& pinned : target_->addresses) {
      error_code ec;
      auto address = asio::ip::make_address(pinned, ec);
      if (ec) co_return fail(Diagnosis::dns_failure, "invalid address " + pinned);
      addresses.push_back(address);
    }
    if (!addresses.empty()) co_return true;

    error_code literal_ec;
    auto literal = asio::ip::make_address(target_->host, literal_ec);
    if (!literal_ec) {
      addresses.push_back(literal);
      co_return true;
    }

    // The deadline cancels the lookup the same way cancel() does.
    resolve_timer_.expires_at(deadline_);
    resolve_timer_.async_wait([weak = weak_from_this()](error_code ec) {
      if (ec) return;
      if (auto self = weak.lock()) {
        self->resolve_cancel_.emit(asio::cancellation_type::terminal);
      }
    });
    Resolution resolution = co_await async_lookup(
        shared_.lookups, shared_.io.get_executor(), target_->host,
        asio::bind_cancellation_slot(resolve_cancel_.slot(), asio::use_awaitable));
    resolve_timer_.cancel();
    base_.phases.resolve = SteadyClock::now() - resolve_started;

    if (resolution.cancelled) {
      co_return fail(Diagnosis::dns_failure, std::string(cancelled_ ? "cancelled: " : "") +
                                                 "no answer from the resolver for " +
                                                 target_->host + " within " +
                                                 seconds_text(target_->timeout));
    }
    if (resolution.diagnosis != Diagnosis::ok) {
      co_return fail(resolution.diagnosis, std::move(resolution.message));
    }
    addresses = std::move(resolution.addresses);
    co_return true;
  }

  void deliver() {
    auto done = std::move(done_);
    done(std::move(results_));
  }

  Shared& shared_;
  std::shared_ptr<const Target> target_;
  ProbeCompletion done_;
  asio::steady_timer resolve_timer_;
  asio::cancellation_signal resolve_cancel_;
  SteadyClock::time_point started_;
  SteadyClock::time_point deadline_;
  ProbeResult base_;
  std::vector<std::weak_ptr<Attempt>> attempts_;
  std::vector<ProbeResult> results_;
  std::size_t pending_ = 0;
  bool cancelled_ = false;
};

}  // namespace
}  // namespace detail

struct Prober::Impl {
  Impl(boost::asio::io_context& io, ProberOptions options) : shared(io, std::move(options)) {}
  detail::Shared shared;
  std::map<std::string, ProbeDelegate, std::less<>> delegates;
};

Prober::Prober(boost::asio::io_context& io, ProberOptions options)
    : impl_(std::make_unique<Impl>(io, std::move(options))) {}

Prober::~Prober() = default;

ProbeHandle Prober::probe(std::shared_ptr<const Target> target, ProbeCompletion done) {
  // A negative test is judged here, so every way of probing (delegates
  // included) reports it alike.
  if (!target->expect.empty()) {
    done = [done = std::move(done)](std::vector<ProbeResult> results) {
      for (ProbeResult& result : results) apply_expectation(result);
      done(std::move(results));
    };
  }
  if (!target->via.empty()) {
    if (auto delegate = impl_->delegates.find(target->via); delegate != impl_->delegates.end()) {
      return delegate->second(std::move(target), std::move(done));
    }
    // Completions always run on the io_context, never inside probe().
    ProbeResult result = result_for(*target);
    result.diagnosis = Diagnosis::local_resource;
    result.failed_phase = Phase::resolve;
    result.message = "this meshprobe cannot probe via \"" + target->via + "\"";
    boost::asio::post(impl_->shared.io,
                      [done = std::move(done), result = std::move(result)]() mutable {
                        done({std::move(result)});
                      });
    return {};
  }
  // Not make_shared: the handle's weak_ptr would keep the whole run's
  // storage (most of a kilobyte) allocated for as long as it is held.
  std::shared_ptr<detail::ProbeRun> run(
      new detail::ProbeRun(impl_->shared, std::move(target), std::move(done)));
  run->start();
  return ProbeHandle(
      std::make_shared<std::function<void()>>([weak = std::weak_ptr<detail::ProbeRun>(run)] {
        if (auto r = weak.lock()) r->cancel();
      }));
}

void Prober::set_delegate(std::string via, ProbeDelegate delegate) {
  impl_->delegates[std::move(via)] = std::move(delegate);
}

void Prober::forget_tls_sessions() { impl_->shared.tls_sessions.clear(); }

}  // namespace meshprobe
