#include "test/support/posix_socket.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <time.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <system_error>

namespace meshprobe::test {
namespace {

[[noreturn]] void throw_errno(const std::string& what) {
  throw std::system_error(errno, std::generic_category(), what);
}

// Fills `storage` for an IP literal; the length, or 0 when `ip` is not one.
socklen_t make_sockaddr(const std::string& ip, std::uint16_t port, sockaddr_storage& storage) {
  storage = {};
  auto* v4 = reinterpret_cast<sockaddr_in*>(&storage);
  if (inet_pton(AF_INET, ip.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(port);
    return sizeof(sockaddr_in);
  }
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&storage);
  if (inet_pton(AF_INET6, ip.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(port);
    return sizeof(sockaddr_in6);
  }
  return 0;
}

}  // namespace

UniqueFd& UniqueFd::operator=(UniqueFd&& other) noexcept {
  if (this != &other) reset(other.release());
  return *this;
}

int UniqueFd::release() {
  int fd = fd_;
  fd_ = -1;
  return fd;
}

void UniqueFd::reset(int fd) {
  if (fd_ >= 0) ::close(fd_);
  fd_ = fd;
}

std::optional<HostPort> parse_host_port(std::string_view text) {
  std::string_view host;
  std::string_view port_text;
  if (text.starts_with('[')) {
    auto close = text.find("]:");
    if (close == std::string_view::npos) return std::nullopt;
    host = text.substr(1, close - 1);
    port_text = text.substr(close + 2);
  } else {
    auto colon = text.rfind(':');
    if (colon == std::string_view::npos) return std::nullopt;
    host = text.substr(0, colon);
    port_text = text.substr(colon + 1);
    // An unbracketed IPv6 literal would make the split ambiguous.
    if (host.find(':') != std::string_view::npos) return std::nullopt;
  }
  std::uint16_t port = 0;
  auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (host.empty() || port_text.empty() || ec != std::errc{} ||
      end != port_text.data() + port_text.size()) {
    return std::nullopt;
  }
  return HostPort{std::string(host), port};
}

UniqueFd bind_socket(const std::string& ip, std::uint16_t port, int type) {
  sockaddr_storage address{};
  socklen_t length = make_sockaddr(ip, port, address);
  if (length == 0) {
    throw std::system_error(std::make_error_code(std::errc::invalid_argument),
                            "not an IP address: " + ip);
  }
  UniqueFd fd(::socket(address.ss_family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd) throw_errno("socket");
  int on = 1;
  ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
  if (address.ss_family == AF_INET6) {
    // "::" should mean IPv6 only, like the address says.
    ::setsockopt(fd.get(), IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof on);
  }
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&address), length) != 0) {
    throw_errno("bind " + ip + ":" + std::to_string(port));
  }
  if (type == SOCK_STREAM && ::listen(fd.get(), SOMAXCONN) != 0) {
    throw_errno("listen");
  }
  return fd;
}

std::uint16_t local_port(int fd) {
  sockaddr_storage address{};
  socklen_t length = sizeof address;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    throw_errno("getsockname");
  }
  if (address.ss_family == AF_INET6) {
    return ntohs(reinterpret_cast<sockaddr_in6*>(&address)->sin6_port);
  }
  return ntohs(reinterpret_cast<sockaddr_in*>(&address)->sin_port);
}

StopSignal::StopSignal() {
  int ends[2];
  if (::pipe2(ends, O_CLOEXEC | O_NONBLOCK) != 0) throw_errno("pipe2");
  read_end_.reset(ends[0]);
  write_end_.reset(ends[1]);
}

void StopSignal::request() {
  char byte = 1;
  // Nobody reads the pipe, so one byte keeps it readable for every poller.
  if (!requested()) {
    [[maybe_unused]] ssize_t written = ::write(write_end_.get(), &byte, 1);
  }
}

bool StopSignal::requested() const {
  pollfd entry{read_end_.get(), POLLIN, 0};
  return ::poll(&entry, 1, 0) > 0;
}

WaitResult wait_for(int fd, short events, const StopSignal& stop,
                    std::chrono::milliseconds timeout) {
  using Clock = std::chrono::steady_clock;
  const bool unlimited = timeout.count() < 0;
  const auto deadline = Clock::now() + timeout;
  for (;;) {
    int wait_ms = -1;
    if (!unlimited) {
      auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now());
      wait_ms = static_cast<int>(std::max<std::chrono::milliseconds::rep>(left.count(), 0));
    }
    pollfd entries[2] = {{fd, events, 0}, {stop.fd(), POLLIN, 0}};
    int n = ::poll(entries, 2, wait_ms);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw_errno("poll");
    if (entries[1].revents != 0) return WaitResult::stopped;
    if (entries[0].revents != 0) return WaitResult::ready;
    if (n == 0) return WaitResult::timed_out;
  }
}

bool sleep_unless_stopped(std::chrono::milliseconds duration, const StopSignal& stop) {
  // A timer descriptor at an absolute deadline, not poll's timeout: the
  // kernel lets a poll of 200 ms wake up to 0.2 ms late (a thousandth of its
  // timeout), and the timing tests and bench/run.sh read a server's delay
  // as exact.
  if (duration.count() <= 0) return true;
  const int timer = ::timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);
  if (timer < 0) throw_errno("timerfd_create");
  timespec now{};
  ::clock_gettime(CLOCK_MONOTONIC, &now);
  const auto ns = std::chrono::nanoseconds(duration).count() + now.tv_nsec;
  itimerspec deadline{};
  deadline.it_value.tv_sec = now.tv_sec + static_cast<time_t>(ns / 1'000'000'000);
  deadline.it_value.tv_nsec = static_cast<long>(ns % 1'000'000'000);
  if (::timerfd_settime(timer, TFD_TIMER_ABSTIME, &deadline, nullptr) != 0) {
    const int error = errno;
    ::close(timer);
    errno = error;
    throw_errno("timerfd_settime");
  }
  pollfd entries[2] = {{stop.fd(), POLLIN, 0}, {timer, POLLIN, 0}};
  int n;
  while ((n = ::poll(entries, 2, -1)) < 0 && errno == EINTR) {
  }
  const int error = errno;
  ::close(timer);
  if (n < 0) {
    errno = error;
    throw_errno("poll");
  }
  return (entries[0].revents & POLLIN) == 0;
}

}  // namespace meshprobe::test
