// One probe: resolve once, then one Attempt per address. An Attempt walks the
// layers connect → tls → app with an explicit phase, and a single deadline
// timer bounds all of them: when it fires it closes the socket, every pending
// operation ends, and the phase that was running names the diagnosis.
#include "probes/prober.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <array>
#include <cmath>
#include <map>
#include <optional>
#include <stdexcept>

#include "probes/ca_bundle.h"
#include "probes/detail/h2_settings.h"
#include "probes/detail/http_head.h"
#include "probes/detail/resolver.h"
#include "probes/detail/socket_errors.h"
#include "probes/detail/tls_inspect.h"

namespace meshprobe {
namespace {

namespace asio = boost::asio;
namespace ssl = boost::asio::ssl;
using tcp = asio::ip::tcp;
using SteadyClock = std::chrono::steady_clock;
using boost::system::error_code;
constexpr auto kNoThrow = asio::as_tuple(asio::use_awaitable);

std::string seconds_text(std::chrono::milliseconds d) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%gs", static_cast<double>(d.count()) / 1000.0);
  return buf;
}

// ALPN offers, in wire format.
constexpr std::string_view kAlpnHttp11{"\x08http/1.1", 9};
constexpr std::string_view kAlpnH2{"\x02h2", 3};

std::unique_ptr<ssl::context> make_tls_context(std::string_view alpn) {
  auto ctx = std::make_unique<ssl::context>(ssl::context::tls_client);
  SSL_CTX* native = ctx->native_handle();
  // Go's TLS client, as the API server and pilot-agent use it; each
  // handshake judges its chain by Go's rules against its target's own
  // bundle (detail::prepare_verification), so one context serves all targets.
  if (!detail::apply_go_client_defaults(native)) {
    throw std::runtime_error("OpenSSL refused Go's TLS client settings");
  }
  SSL_CTX_set_session_cache_mode(native, SSL_SESS_CACHE_OFF);
  // The largest Certificate message accepted: Go's crypto/tls limit (what
  // the API server calls the webhook with) instead of OpenSSL's 100 KiB, so a
  // chain the API server accepts is not failed here. Still a bound: a hostile
  // server cannot make a probe buffer more.
  SSL_CTX_set_max_cert_list(native, detail::kMaxCertificateMessage);
  if (!alpn.empty()) {
    SSL_CTX_set_alpn_protos(native, reinterpret_cast<const unsigned char*>(alpn.data()),
                            static_cast<unsigned>(alpn.size()));
  }
  return ctx;
}

struct Shared {
  Shared(asio::io_context& io_context, ProberOptions opts)
      : io(io_context),
        options(std::move(opts)),
        lookups(options.resolver_threads),
        tls_plain(make_tls_context({})),
        tls_http11(make_tls_context(kAlpnHttp11)),
        tls_h2(make_tls_context(kAlpnH2)) {}

  ssl::context& tls_context(ProbeKind kind) {
    if (kind == ProbeKind::https) return *tls_http11;
    if (kind == ProbeKind::grpc) return *tls_h2;
    return *tls_plain;
  }

  // Loaded on first use: reading the system store costs tens of
  // milliseconds, and most deployments name their own bundle.
  const CaBundle* system_trust() {
    if (!system_bundle) {
      auto bundle = CaBundle::system();
      if (bundle) system_bundle = *bundle;
    }
    return system_bundle.get();
  }

  asio::io_context& io;
  ProberOptions options;
  detail::LookupPool lookups;
  std::unique_ptr<ssl::context> tls_plain, tls_http11, tls_h2;
  std::shared_ptr<const CaBundle> system_bundle;
};

class Attempt : public std::enable_shared_from_this<Attempt> {
 public:
  Attempt(Shared& shared, std::shared_ptr<const Target> target,
          asio::ip::address address, SteadyClock::time_point started,
          SteadyClock::time_point deadline, ProbeResult base)
      : shared_(shared),
        target_(std::move(target)),
        address_(address),
        started_(started),
        deadline_(deadline),
        timer_(shared.io),
        socket_(shared.io),
        result_(std::move(base)) {
    result_.address = address.to_string();
    if (auto labels = target_->address_labels.find(result_.address);
        labels != target_->address_labels.end()) {
      result_.address_labels = labels->second;
    }
  }

  asio::awaitable<void> run() {
    arm_deadline();
    // One co_await per statement: g++ 12 miscompiles co_await inside
    // short-circuit conditions.
    bool ok = co_await connect();
    if (ok && uses_tls(target_->kind)) ok = co_await handshake();
    if (ok && target_->kind == ProbeKind::https) co_await http_exchange();
    if (ok && target_->kind == ProbeKind::grpc) co_await grpc_exchange();
    finish();
  }

  void cancel() { stop(/*cancelled=*/true); }

  ProbeResult take_result() { return std::move(result_); }

 private:
  void arm_deadline() {
    timer_.expires_at(deadline_);
    timer_.async_wait([weak = weak_from_this()](error_code ec) {
      if (ec) return;
      if (auto self = weak.lock()) self->stop(/*cancelled=*/false);
    });
  }

  void stop(bool cancelled) {
    if (done_) return;
    (cancelled ? cancelled_ : timed_out_) = true;
    error_code ignored;
    socket_.close(ignored);
  }

  void begin(Phase phase) {
    phase_ = phase;
    phase_started_ = SteadyClock::now();
  }

  void end_phase() {
    const Duration took = SteadyClock::now() - phase_started_;
    switch (phase_) {
      case Phase::resolve: result_.phases.resolve = took; break;
      case Phase::connect: result_.phases.connect = took; break;
      case Phase::tls: result_.phases.tls = took; break;
      case Phase::app: result_.phases.app = took; break;
    }
  }

  void fail(Diagnosis diagnosis, std::string message) {
    if (failed_) return;
    failed_ = true;
    result_.diagnosis = diagnosis;
    result_.failed_phase = phase_;
    result_.message = std::move(message);
  }

  // The deadline or a cancel closed the socket: say what was being waited for.
  void fail_stopped() {
    const std::string budget = seconds_text(target_->timeout);
    if (cancelled_) {
      result_.cancelled = true;
    }
    switch (phase_) {
      case Phase::resolve:
      case Phase::connect:
        fail(Diagnosis::tcp_timeout,
             "no answer to the TCP connect within " + budget +
                 ": a firewall drops the traffic (context deadline exceeded)");
        break;
      case Phase::tls:
        fail(Diagnosis::tls_timeout, handshake_stall_message(budget));
        break;
      case Phase::app:
        if (target_->kind == ProbeKind::grpc) {
          fail(Diagnosis::grpc_not_h2,
               "ALPN selected h2, but no SETTINGS frame answered the HTTP/2 "
               "preface within " + budget);
        } else if (head_bytes_ > 0) {
          // A server trickling its head, or stopped in the middle of it.
          fail(Diagnosis::http_timeout,
               "connected, but the response head was still incomplete after " +
                   std::to_string(head_bytes_) + " bytes within " + budget +
                   " (Client.Timeout exceeded while awaiting headers)");
        } else {
          fail(Diagnosis::http_timeout,
               "connected, but no response headers within " + budget +
                   " (Client.Timeout exceeded while awaiting headers)");
        }
        break;
    }
    if (cancelled_) result_.message = "cancelled: " + result_.message;
  }

  bool stopped() const { return timed_out_ || cancelled_; }

  // Where the handshake stood when the deadline hit: a silent listener and
  // a handshake cut off after the ServerHello (a path MTU black hole drops
  // the large certificate packets that follow it) need different fixes.
  std::string handshake_stall_message(const std::string& budget) {
    const OSSL_HANDSHAKE_STATE state =
        tls_ ? SSL_get_state(tls_->native_handle()) : TLS_ST_BEFORE;
    if (state == TLS_ST_BEFORE || state == TLS_ST_CW_CLNT_HELLO) {
      return "TCP connected, but no complete answer to the ClientHello within " +
             budget + ": a listener that does not speak TLS, or a server or "
             "middlebox that stalls";
    }
    return "the TLS handshake stalled at \"" +
           std::string(SSL_state_string_long(tls_->native_handle())) +
           "\" and did not complete within " + budget +
           ": the rest of the server's answer never arrived (a path MTU black "
           "hole dropping large packets, or a stalled server)";
  }

  asio::awaitable<bool> connect() {
    begin(Phase::connect);
    const tcp::endpoint endpoint(address_, target_->port);
    error_code ec;
    socket_.open(endpoint.protocol(), ec);
    if (ec) {
      auto verdict = detail::classify_connect_failure(-1, ec.value(), result_.address, "");
      fail(verdict.diagnosis, std::move(verdict.message));
      co_return false;
    }
    detail::enable_icmp_error_queue(socket_.native_handle(), address_.is_v6());
    std::tie(ec) = co_await socket_.async_connect(endpoint, kNoThrow);
    end_phase();
    if (ec) {
      if (stopped()) {
        fail_stopped();
      } else {
        error_code ignored;
        const auto local = socket_.local_endpoint(ignored);
        auto verdict = detail::classify_connect_failure(
            socket_.native_handle(), ec.value(), result_.address,
            ignored ? "" : local.address().to_string());
        fail(verdict.diagnosis, std::move(verdict.message));
      }
      co_return false;
    }
    co_return true;
  }

  asio::awaitable<bool> handshake() {
    begin(Phase::tls);
    tls_.emplace(socket_, shared_.tls_context(target_->kind));
    SSL* ssl = tls_->native_handle();
    const std::string& name = target_->server_name;
    const CaBundle* bundle = target_->ca ? target_->ca.get() : shared_.system_trust();
    if (bundle == nullptr || !detail::prepare_verification(ssl, *bundle, name, &peer_check_)) {
      end_phase();
      fail(Diagnosis::local_resource, bundle == nullptr
                                          ? "the system trust store cannot be loaded"
                                          : "cannot set up certificate verification");
      co_return false;
    }
    auto [ec] = co_await tls_->async_handshake(ssl::stream_base::client, kNoThrow);
    end_phase();
    // The served chain's facts, whatever the verdict.
    if (detail::received_chain(ssl)) result_.tls = detail::describe_session(ssl);
    if (ec && stopped()) {
      fail_stopped();
      co_return false;
    }
    if (ec && !peer_check_.refused()) {
      fail_tls(ec);
      co_return false;
    }

    // Go's verdict on the served chain (a refusal ended the handshake).
    auto verdict = detail::verify_peer(ssl, peer_check_);
    if (verdict.diagnosis == Diagnosis::tls_unknown_authority && !target_->ca) {
      verdict.message +=
          "; it was checked against the system trust store: name the mesh's "
          "root CA bundle (e.g. --ca-file root-cert.pem)";
    }
    if (verdict.diagnosis != Diagnosis::ok) {
      fail(verdict.diagnosis, std::move(verdict.message));
      co_return false;
    }
    result_.tls->verified = true;
    warn_if_expiring();
    co_return true;
  }

  void fail_tls(const error_code& ec) {
    int reason = 0;
    int system_errno = 0;
    bool eof = ec == ssl::error::stream_truncated || ec == asio::error::eof;
    if (ec.category() == asio::error::get_ssl_category()) {
      reason = ERR_GET_REASON(static_cast<unsigned long>(ec.value()));
    } else if (ec.category() == boost::system::system_category()) {
      system_errno = ec.value();
    }
    auto verdict = detail::explain_handshake_failure(tls_->native_handle(), peer_check_, reason,
                                                     system_errno, eof);
    if (target_->kind == ProbeKind::grpc &&
        reason == SSL_R_TLSV1_ALERT_NO_APPLICATION_PROTOCOL) {
      verdict = {Diagnosis::grpc_not_h2,
                 "the server refused ALPN h2 (no_application_protocol alert): "
                 "it is not istiod's xDS gRPC port"};
    }
    if (phase_ == Phase::app) {
      verdict.message += " (after the handshake";
      verdict.message +=
          reason == SSL_R_TLSV13_ALERT_CERTIFICATE_REQUIRED
              ? ": the server requires a client certificate)"
              : ")";
    }
    fail(verdict.diagnosis, std::move(verdict.message));
  }

  void warn_if_expiring() {
    if (!result_.tls->earliest_expiry) return;
    const double days =
        detail::days_until(*result_.tls->earliest_expiry, WallClock::now());
    if (days < target_->expiry_warning_days) {
      result_.warnings.push_back(
          {"tls_expiring_soon",
           "a certificate of the chain expires in " +
               std::to_string(static_cast<int>(std::floor(days))) +
               " days (warning below " +
               std::to_string(target_->expiry_warning_days) + ")"});
    }
  }

  // A read or write of the application phase failed: timeout, a close, or
  // TLS trouble that only shows after the handshake.
  void fail_app_io(const error_code& ec, Diagnosis closed_diagnosis,
                   std::string closed_message) {
    if (stopped()) {
      fail_stopped();
    } else if (ec == asio::error::eof || ec == ssl::error::stream_truncated ||
               ec == asio::error::connection_reset) {
      fail(closed_diagnosis, std::move(closed_message));
    } else {
      fail_tls(ec);
    }
  }

  asio::awaitable<void> http_exchange() {
    begin(Phase::app);
    std::string host_header = target_->server_name;
    if (host_header.find(':') != std::string::npos) host_header = "[" + host_header + "]";
    if (target_->port != 443) host_header += ":" + std::to_string(target_->port);
    const std::string request = detail::make_request(
        target_->path, host_header, shared_.options.user_agent);

    auto [write_ec, written] =
        co_await asio::async_write(*tls_, asio::buffer(request), kNoThrow);
    if (write_ec) {
      end_phase();
      fail_app_io(write_ec, Diagnosis::http_protocol_error,
                  "the server closed the connection before the request was sent");
      co_return;
    }

    std::string received;
    std::array<char, 4096> chunk;
    std::size_t head_end = 0;
    while (head_end == 0) {
      auto [ec, n] = co_await tls_->async_read_some(asio::buffer(chunk), kNoThrow);
      received.append(chunk.data(), n);
      head_bytes_ = received.size();
      head_end = detail::response_head_end(received);
      if (head_end != 0) break;
      if (received.size() > detail::kMaxResponseHead) {
        end_phase();
        fail(Diagnosis::http_protocol_error,
             "the response head exceeds 16 KiB without ending");
        co_return;
      }
      if (ec) {
        end_phase();
        fail_app_io(ec, Diagnosis::http_protocol_error,
                    received.empty()
                        ? "the server closed the connection without answering "
                          "the request"
                        : "the server closed the connection in the middle of "
                          "the response head");
        co_return;
      }
    }
    end_phase();

    auto head = detail::parse_response_head(std::string_view(received).substr(0, head_end));
    if (!head) {
      fail(Diagnosis::http_protocol_error, head.error().message);
      co_return;
    }
    result_.http_status = head->status;
    if (head->status != target_->expected_status) {
      fail(Diagnosis::http_unexpected_status,
           "GET " + target_->path + " answered " + std::to_string(head->status) +
               (head->reason.empty() ? "" : " " + head->reason) + ", expected " +
               std::to_string(target_->expected_status));
    }
  }

  asio::awaitable<void> grpc_exchange() {
    begin(Phase::app);
    const std::string& alpn = result_.tls->alpn;
    if (alpn != "h2") {
      end_phase();
      fail(Diagnosis::grpc_not_h2,
           alpn.empty() ? "the server selected no ALPN protocol: it does not "
                          "speak HTTP/2, so it is not istiod's xDS gRPC port"
                        : "the server selected ALPN \"" + alpn +
                              "\" instead of h2: it is not a gRPC port");
      co_return;
    }
    const std::string hello = detail::h2_client_hello();
    auto [write_ec, written] =
        co_await asio::async_write(*tls_, asio::buffer(hello), kNoThrow);
    if (write_ec) {
      end_phase();
      fail_app_io(write_ec, Diagnosis::grpc_not_h2,
                  "the server closed the connection before the HTTP/2 preface "
                  "was sent");
      co_return;
    }

    std::array<unsigned char, detail::kH2FrameHeaderSize> header_bytes;
    auto [ec, n] = co_await asio::async_read(*tls_, asio::buffer(header_bytes), kNoThrow);
    if (ec) {
      end_phase();
      fail_app_io(ec, Diagnosis::grpc_not_h2,
                  "the server closed the connection instead of answering the "
                  "HTTP/2 preface with SETTINGS");
      co_return;
    }
    const auto header = detail::parse_h2_frame_header(header_bytes.data());
    if (std::string problem = detail::check_server_first_frame(header); !problem.empty()) {
      end_phase();
      fail(Diagnosis::grpc_not_h2, problem);
      co_return;
    }
    std::string payload(header.length, '\0');
    std::tie(ec, n) = co_await asio::async_read(*tls_, asio::buffer(payload), kNoThrow);
    end_phase();
    if (ec) {
      fail_app_io(ec, Diagnosis::grpc_not_h2,
                  "the server closed the connection inside its SETTINGS frame");
      co_return;
    }
    // Best effort: the verdict is already in.
    const std::string goodbye = detail::h2_client_goodbye();
    co_await asio::async_write(*tls_, asio::buffer(goodbye), kNoThrow);
  }

  void finish() {
    done_ = true;
    timer_.cancel();
    error_code ignored;
    socket_.close(ignored);
    result_.duration = SteadyClock::now() - started_;
    result_.success = !failed_;
    if (!failed_) result_.diagnosis = Diagnosis::ok;
  }

  Shared& shared_;
  std::shared_ptr<const Target> target_;
  asio::ip::address address_;
  SteadyClock::time_point started_;
  SteadyClock::time_point deadline_;
  asio::steady_timer timer_;
  tcp::socket socket_;
  // Filled during the handshake; declared first so it outlives the stream.
  detail::GoPeerCheck peer_check_;
  std::optional<ssl::stream<tcp::socket&>> tls_;
  ProbeResult result_;

  Phase phase_ = Phase::connect;
  SteadyClock::time_point phase_started_;
  bool failed_ = false;
  bool timed_out_ = false;
  bool cancelled_ = false;
  bool done_ = false;
  std::size_t head_bytes_ = 0;  // of the HTTP response head received so far
};

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
      auto attempt = std::make_shared<Attempt>(shared_, target_, addresses[i],
                                               started_, deadline_, base_);
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
    detail::Resolution resolution = co_await detail::async_lookup(
        shared_.lookups, shared_.io.get_executor(), target_->host,
        asio::bind_cancellation_slot(resolve_cancel_.slot(), asio::use_awaitable));
    resolve_timer_.cancel();
    base_.phases.resolve = SteadyClock::now() - resolve_started;

    if (resolution.cancelled) {
      co_return fail(Diagnosis::dns_failure,
                     std::string(cancelled_ ? "cancelled: " : "") +
                         "no answer from the resolver for " + target_->host +
                         " within " + seconds_text(target_->timeout));
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

struct Prober::Impl {
  Impl(asio::io_context& io, ProberOptions options) : shared(io, std::move(options)) {}
  Shared shared;
  std::map<std::string, ProbeDelegate, std::less<>> delegates;
};

Prober::Prober(asio::io_context& io, ProberOptions options)
    : impl_(std::make_unique<Impl>(io, std::move(options))) {}

Prober::~Prober() = default;

ProbeHandle Prober::probe(std::shared_ptr<const Target> target, ProbeCompletion done) {
  if (!target->via.empty()) {
    if (auto delegate = impl_->delegates.find(target->via); delegate != impl_->delegates.end()) {
      return delegate->second(std::move(target), std::move(done));
    }
    // Completions always run on the io_context, never inside probe().
    ProbeResult result = result_for(*target);
    result.diagnosis = Diagnosis::local_resource;
    result.failed_phase = Phase::resolve;
    result.message = "this meshprobe cannot probe via \"" + target->via + "\"";
    asio::post(impl_->shared.io, [done = std::move(done), result = std::move(result)]() mutable {
      done({std::move(result)});
    });
    return {};
  }
  // Not make_shared: the handle's weak_ptr would keep the whole run's
  // storage (most of a kilobyte) allocated for as long as it is held.
  std::shared_ptr<ProbeRun> run(new ProbeRun(impl_->shared, std::move(target), std::move(done)));
  run->start();
  return ProbeHandle(std::make_shared<std::function<void()>>(
      [weak = std::weak_ptr<ProbeRun>(run)] {
        if (auto r = weak.lock()) r->cancel();
      }));
}

void Prober::set_delegate(std::string via, ProbeDelegate delegate) {
  impl_->delegates[std::move(via)] = std::move(delegate);
}

}  // namespace meshprobe
