#include "kube/client/detail/subprocess.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <thread>

namespace meshprobe::kube::detail {
namespace {

using Clock = std::chrono::steady_clock;

struct Fd {
  int fd = -1;
  ~Fd() { reset(); }
  void reset() {
    if (fd >= 0) ::close(fd);
    fd = -1;
  }
};

struct Pipe {
  Fd read;
  Fd write;
  bool open() {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) return false;
    read.fd = fds[0];
    write.fd = fds[1];
    return true;
  }
};

struct SpawnSetup {
  posix_spawn_file_actions_t actions;
  posix_spawnattr_t attributes;
  SpawnSetup() {
    posix_spawn_file_actions_init(&actions);
    posix_spawnattr_init(&attributes);
  }
  ~SpawnSetup() {
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attributes);
  }
  SpawnSetup(const SpawnSetup&) = delete;
  SpawnSetup& operator=(const SpawnSetup&) = delete;
};

std::vector<char*> pointers(std::vector<std::string>& strings) {
  std::vector<char*> out;
  out.reserve(strings.size() + 1);
  for (std::string& s : strings) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

// stdin from /dev/null, stdout and stderr to the pipes; a process group of
// its own (so a timeout kills what it started too), default signal handling
// and no blocked signals whatever this process has.
void prepare(SpawnSetup& setup, const Pipe& out, const Pipe& err) {
  posix_spawn_file_actions_addopen(&setup.actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&setup.actions, out.write.fd, 1);
  posix_spawn_file_actions_adddup2(&setup.actions, err.write.fd, 2);
  sigset_t none;
  sigemptyset(&none);
  posix_spawnattr_setsigmask(&setup.attributes, &none);
  sigset_t defaults;
  sigemptyset(&defaults);
  for (int sig : {SIGPIPE, SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGCHLD}) sigaddset(&defaults, sig);
  posix_spawnattr_setsigdefault(&setup.attributes, &defaults);
  posix_spawnattr_setpgroup(&setup.attributes, 0);
  posix_spawnattr_setflags(&setup.attributes,
                           POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
}

void keep_tail(std::string& tail, const char* data, std::size_t size, std::size_t limit,
               bool& truncated) {
  tail.append(data, size);
  if (tail.size() > limit) {
    tail.erase(0, tail.size() - limit);
    truncated = true;
  }
}

int remaining_ms(Clock::time_point deadline) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
  return left.count() <= 0 ? 0 : static_cast<int>(std::min<long long>(left.count(), 60'000));
}

// Reads both pipes until both close, the deadline passes or stdout is too
// large. False when it stopped early.
bool drain(Fd& out, Fd& err, Clock::time_point deadline, const ProcessSpec& spec,
           ProcessResult& result) {
  std::array<char, 16384> buffer;
  while (out.fd >= 0 || err.fd >= 0) {
    std::array<pollfd, 2> fds{pollfd{out.fd, POLLIN, 0}, pollfd{err.fd, POLLIN, 0}};
    const int timeout = remaining_ms(deadline);
    if (timeout == 0) {
      result.timed_out = true;
      return false;
    }
    const int ready = ::poll(fds.data(), fds.size(), timeout);
    if (ready < 0 && errno == EINTR) continue;
    if (ready < 0) return false;
    for (std::size_t i = 0; i < fds.size(); ++i) {
      if (fds[i].fd < 0 || fds[i].revents == 0) continue;
      Fd& fd = i == 0 ? out : err;
      const ssize_t n = ::read(fd.fd, buffer.data(), buffer.size());
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        fd.reset();
        continue;
      }
      const auto size = static_cast<std::size_t>(n);
      if (i == 1) {
        keep_tail(result.err, buffer.data(), size, spec.stderr_tail, result.err_truncated);
      } else if (result.out.size() + size > spec.max_stdout) {
        result.stdout_too_large = true;
        return false;
      } else {
        result.out.append(buffer.data(), size);
      }
    }
  }
  return true;
}

// Waits for the child until the deadline; kills its group after that.
void reap(pid_t pid, bool kill_now, Clock::time_point deadline, ProcessResult& result) {
  int status = 0;
  for (;;) {
    if (!kill_now) {
      const pid_t done = ::waitpid(pid, &status, WNOHANG);
      if (done == pid) break;
      if (done < 0 && errno != EINTR) return;
      if (Clock::now() >= deadline) {
        result.timed_out = true;
        kill_now = true;
      } else {
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
        continue;
      }
    }
    ::kill(-pid, SIGKILL);
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    break;
  }
  if (WIFEXITED(status)) result.exit_code = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) result.signal = WTERMSIG(status);
}

}  // namespace

ProcessResult run_process(const ProcessSpec& spec) {
  ProcessResult result;
  Pipe out;
  Pipe err;
  if (!out.open() || !err.open()) {
    result.spawn_error = std::strerror(errno);
    return result;
  }
  SpawnSetup setup;
  prepare(setup, out, err);
  std::vector<std::string> argv = spec.argv;
  std::vector<std::string> environment = spec.environment;
  std::vector<char*> argv_pointers = pointers(argv);
  std::vector<char*> environment_pointers = pointers(environment);
  pid_t pid = -1;
  const int spawned =
      ::posix_spawn(&pid, spec.executable.c_str(), &setup.actions, &setup.attributes,
                    argv_pointers.data(), environment_pointers.data());
  out.write.reset();
  err.write.reset();
  if (spawned != 0) {
    result.spawn_error = std::strerror(spawned);
    return result;
  }
  const auto deadline = Clock::now() + spec.timeout;
  const bool drained = drain(out.read, err.read, deadline, spec, result);
  reap(pid, !drained, deadline, result);
  return result;
}

}  // namespace meshprobe::kube::detail
