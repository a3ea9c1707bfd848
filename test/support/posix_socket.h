// The POSIX socket plumbing the test servers share: owned descriptors,
// binding to "ADDR:PORT", and waits that a stop request always interrupts.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace meshprobe::test {

class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  ~UniqueFd() { reset(); }
  UniqueFd(UniqueFd&& other) noexcept : fd_(other.release()) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept;
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;

  int get() const { return fd_; }
  explicit operator bool() const { return fd_ >= 0; }
  int release();
  void reset(int fd = -1);

 private:
  int fd_ = -1;
};

struct HostPort {
  std::string host;  // IP literal, IPv6 without brackets
  std::uint16_t port = 0;
};

// Parses "127.0.0.1:80" or "[::1]:80"; nullopt when malformed.
std::optional<HostPort> parse_host_port(std::string_view text);

// A non-blocking socket of `type` (SOCK_STREAM or SOCK_DGRAM) bound to an IP
// literal; stream sockets are also listening. Port 0 picks an ephemeral port.
// Throws std::system_error.
UniqueFd bind_socket(const std::string& ip, std::uint16_t port, int type);

// The port `fd` is bound to.
std::uint16_t local_port(int fd);

// A one-way latch every wait of a server polls, so stopping never waits on a
// peer: a pipe whose read end becomes readable once and stays so.
class StopSignal {
 public:
  StopSignal();
  void request();
  bool requested() const;
  int fd() const { return read_end_.get(); }

 private:
  UniqueFd read_end_;
  UniqueFd write_end_;
};

enum class WaitResult { ready, stopped, timed_out };

// Waits until `fd` reports `events` (POLLIN, POLLOUT; errors and hang-ups
// count as ready so the caller's next read sees them), the stop signal fires,
// or `timeout` passes (negative: no limit).
WaitResult wait_for(int fd, short events, const StopSignal& stop,
                    std::chrono::milliseconds timeout = std::chrono::milliseconds{-1});

// Sleeps for `duration` unless stop is requested first; false when stopped.
bool sleep_unless_stopped(std::chrono::milliseconds duration, const StopSignal& stop);

}  // namespace meshprobe::test
