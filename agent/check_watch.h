// `meshprobe check --watch`: a round every interval until stopped, for the
// person at the bastion editing a firewall rule. On a terminal the table is
// redrawn in place under a header, with a line above it for every change;
// elsewhere the first table is printed once and then one line per change;
// with --output json, one JSON object per round (NDJSON).
#pragma once

#include <iosfwd>

#include "agent/check_command.h"

namespace boost::asio {
class io_context;
}

namespace meshprobe {

class CheckSession;

// Runs rounds of `session` on `io` (options.watch set) and returns the exit
// code: 0 on SIGINT or SIGTERM (how a watch ends), or -- with until_ok -- 0
// at the first round where everything passed, and 1 when max_wait passed
// first or a signal ended the wait (not every target passed). A signal or
// max_wait cancels the round in flight.
int run_watch(CheckSession& session, boost::asio::io_context& io, const CheckOptions& options,
              std::ostream& out);

}  // namespace meshprobe
