// The address the agent serves /metrics and /status on, as written in the
// config's `listen:` and on the command line (`--listen`).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/expected.h"

namespace meshprobe {

struct ListenAddress {
  std::string host;  // an IP literal; IPv6 without brackets
  std::uint16_t port = 0;

  // "0.0.0.0:9717", "[::]:9717": what parse_listen_address reads back.
  std::string text() const;

  bool operator==(const ListenAddress&) const = default;
};

// Parses IPV4:PORT or [IPV6]:PORT. Host names are refused: the agent binds to
// an address, and a name that resolves differently from one node to the next
// would make the DaemonSet's config mean different things. Port 0 asks the
// kernel for any free port (tests use it).
Expected<ListenAddress> parse_listen_address(std::string_view text);

}  // namespace meshprobe
