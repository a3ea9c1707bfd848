// The raw baselines the whole agent is held against (bench/agent_cpu.sh):
// what a probe costs a process that does nothing else, on the same server
// in the same run.
//
//   meshprobe-bench-raw-loops tcp PORT N
//     non-blocking connects to 127.0.0.1:PORT, 16 in flight: socket,
//     connect, epoll until writable, SO_ERROR, close.
//   meshprobe-bench-raw-loops tls PORT CA_FILE SERVER_NAME N [PER_SECOND]
//     sequential full OpenSSL handshakes with the agent's verification: the
//     CA loaded once, a fresh SSL per handshake, chain and host name
//     checked, no session reuse. With PER_SECOND, paced as an agent's
//     targets are (a handshake, then sleep until the next is due): the
//     caches and branch predictors go cold between handshakes as the
//     agent's do, which back to back they never are.
//   meshprobe-bench-raw-loops tls-resume PORT CA_FILE SERVER_NAME N [PER_SECOND]
//     the same, but each handshake resumes the newest session the server
//     granted (a TLS 1.3 ticket, read after the handshake as the agent reads
//     it; a TLS 1.2 session): the agent's probes between two full
//     verifications. Only the warm-up's first handshake is a full one.
//
// Prints `cpu_us_per_probe=X` (user + system CPU of this process).
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <poll.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <stdexcept>
#include <string>

namespace {

double cpu_seconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  const auto seconds = [](const timeval& tv) {
    return static_cast<double>(tv.tv_sec) + static_cast<double>(tv.tv_usec) / 1e6;
  };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

sockaddr_in loopback(int port) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return addr;
}

// Starts one non-blocking connect and registers it for writability.
void start_connect(int epoll_fd, const sockaddr_in& addr) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) throw std::runtime_error("socket failed");
  if (connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0 &&
      errno != EINPROGRESS) {
    throw std::runtime_error("connect failed");
  }
  epoll_event event{};
  event.events = EPOLLOUT;
  event.data.fd = fd;
  if (epoll_ctl(epoll_fd, EPOLL_CTL_ADD, fd, &event) != 0) {
    throw std::runtime_error("epoll_ctl failed");
  }
}

void tcp_loop(int port, int n) {
  constexpr int kInFlight = 16;
  const sockaddr_in addr = loopback(port);
  const int epoll_fd = epoll_create1(EPOLL_CLOEXEC);
  int started = 0;
  int done = 0;
  for (; started < kInFlight && started < n; ++started) start_connect(epoll_fd, addr);
  epoll_event events[kInFlight];
  while (done < n) {
    const int ready = epoll_wait(epoll_fd, events, kInFlight, 1000);
    if (ready <= 0) throw std::runtime_error("epoll_wait timed out");
    for (int i = 0; i < ready; ++i) {
      const int fd = events[i].data.fd;
      int error = 0;
      socklen_t len = sizeof error;
      getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &len);
      if (error != 0) throw std::runtime_error("connect refused");
      close(fd);  // also leaves the epoll set
      ++done;
      if (started < n) {
        start_connect(epoll_fd, addr);
        ++started;
      }
    }
  }
  close(epoll_fd);
}

// The newest session the server granted (OpenSSL's new-session callback).
// A copy: OpenSSL marks a connection's own session unresumable when the
// connection is freed without a close_notify, as these are (and the agent's);
// the session offered is a copy too.
SSL_SESSION* newest_session = nullptr;
int sessions_granted = 0;

int keep_newest_session(SSL* /*ssl*/, SSL_SESSION* session) {
  SSL_SESSION_free(newest_session);
  newest_session = SSL_SESSION_dup(session);
  ++sessions_granted;
  return 0;
}

// A TLS 1.3 server sends its ticket after the handshake: read until it has
// come (as the agent does, bounded by 20 ms).
void read_ticket(SSL* ssl, int fd) {
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
  const int before = sessions_granted;
  char byte = 0;
  for (int waits = 0; sessions_granted == before && waits < 20; ++waits) {
    if (SSL_read(ssl, &byte, 1) > 0) break;
    if (SSL_get_error(ssl, 0) != SSL_ERROR_WANT_READ) break;
    pollfd readable{fd, POLLIN, 0};
    poll(&readable, 1, 1);
  }
}

void tls_loop(int port, const char* ca_file, const char* server_name, int n, int per_second,
              bool resume) {
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  if (SSL_CTX_load_verify_locations(ctx, ca_file, nullptr) != 1) {
    throw std::runtime_error("cannot load the CA file");
  }
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
  if (resume) {
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL);
    SSL_CTX_sess_set_new_cb(ctx, keep_newest_session);
  } else {
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
  }
  const sockaddr_in addr = loopback(port);
  timespec due{};
  clock_gettime(CLOCK_MONOTONIC, &due);
  for (int i = 0; i < n; ++i) {
    if (per_second > 0) {
      due.tv_nsec += 1000000000L / per_second;
      if (due.tv_nsec >= 1000000000L) {
        due.tv_nsec -= 1000000000L;
        ++due.tv_sec;
      }
      clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &due, nullptr);
    }
    const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
      throw std::runtime_error("connect failed");
    }
    SSL* ssl = SSL_new(ctx);
    SSL_set_fd(ssl, fd);
    SSL_set_tlsext_host_name(ssl, server_name);  // NOLINT: OpenSSL macro
    SSL_set1_host(ssl, server_name);
    const bool offered = resume && newest_session != nullptr;
    if (offered) {
      SSL_SESSION* copy = SSL_SESSION_dup(newest_session);  // the kept one stays resumable
      SSL_set_session(ssl, copy);
      SSL_SESSION_free(copy);
    }
    if (SSL_connect(ssl) != 1 || SSL_get_verify_result(ssl) != X509_V_OK) {
      throw std::runtime_error("handshake failed");
    }
    if (offered && SSL_session_reused(ssl) != 1) {
      throw std::runtime_error("the server did not resume the session");
    }
    if (resume && SSL_version(ssl) == TLS1_3_VERSION) read_ticket(ssl, fd);
    SSL_free(ssl);
    close(fd);
  }
  SSL_CTX_free(ctx);
}

}  // namespace

int main(int argc, char** argv) {
  const std::string kind = argc > 1 ? argv[1] : "";
  const bool tls = kind == "tls" || kind == "tls-resume";
  if (!((kind == "tcp" && argc == 4) || (tls && (argc == 6 || argc == 7)))) {
    std::fprintf(stderr,
                 "usage: %s tcp PORT N | {tls|tls-resume} PORT CA_FILE SERVER_NAME N [PER_SECOND]\n",
                 argv[0]);
    return 2;
  }
  try {
    const int port = std::atoi(argv[2]);
    const int n = std::atoi(argv[kind == "tcp" ? 3 : 5]);
    const int per_second = argc == 7 ? std::atoi(argv[6]) : 0;
    const auto run = [&](int count) {
      if (kind == "tcp") {
        tcp_loop(port, count);
      } else {
        tls_loop(port, argv[3], argv[4], count, per_second, kind == "tls-resume");
      }
    };
    run(n / 10 + 1);  // warm-up: page faults, the CA's parse, the server's caches
    const double start = cpu_seconds();
    run(n);
    std::printf("cpu_us_per_probe=%.1f\n", (cpu_seconds() - start) * 1e6 / n);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s: %s\n", argv[0], e.what());
    return 1;
  }
  return 0;
}
