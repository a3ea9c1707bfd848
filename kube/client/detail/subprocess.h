// One child process run to completion, for the exec credential plugins:
// posix_spawn with stdin on /dev/null, stdout and stderr on pipes read
// together (poll) so neither can fill and stall the child, both bounded, and
// a deadline after which the child's whole process group is killed.
#pragma once

#include <chrono>
#include <cstddef>
#include <string>
#include <vector>

namespace meshprobe::kube::detail {

struct ProcessSpec {
  std::string executable;                // a path, not looked up on PATH
  std::vector<std::string> argv;         // argv[0] first
  std::vector<std::string> environment;  // NAME=VALUE, the child's whole environment
  std::chrono::milliseconds timeout{30000};
  std::size_t max_stdout = std::size_t{1} << 20;  // more: the child is killed
  std::size_t stderr_tail = 4096;                 // the last bytes kept
};

struct ProcessResult {
  std::string spawn_error;  // not empty: the child did not start (strerror)
  int exit_code = -1;       // when it exited
  int signal = 0;           // when a signal ended it
  bool timed_out = false;   // killed at the deadline
  bool stdout_too_large = false;
  std::string out;
  std::string err;  // the tail of stderr
  bool err_truncated = false;
};

// Blocks the calling thread until the child ends or is killed.
ProcessResult run_process(const ProcessSpec& spec);

}  // namespace meshprobe::kube::detail
