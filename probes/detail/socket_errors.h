// What a failed TCP connect means: a reset from the target, silence, an ICMP
// error (and who sent it), or a shortage on this machine.
#pragma once

#include <string>

#include "probes/diagnosis.h"

namespace meshprobe::detail {

struct ConnectVerdict {
  Diagnosis diagnosis;
  std::string message;
};

// Asks the kernel to queue ICMP errors on the socket (IP_RECVERR /
// IPV6_RECVERR) so a failed connect can say which ICMP error arrived and from
// where. Best effort: a failure here only makes the diagnosis less specific.
void enable_icmp_error_queue(int fd, bool ipv6);

// Classifies a connect that failed with `error` (an errno value). Reads the
// socket's error queue when `fd` is open. `target` and `local` are the
// addresses of both ends, used to name who sent an ICMP error.
ConnectVerdict classify_connect_failure(int fd, int error, const std::string& target,
                                        const std::string& local);

// Errors that mean this machine, not the network, ran out of something.
bool is_local_resource_error(int error);

}  // namespace meshprobe::detail
