// The head of an HTTP/1.1 response: all an https probe needs to judge the
// answer. The body is never read, so an endless body cannot hold a probe.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "common/expected.h"

namespace meshprobe::detail {

inline constexpr std::size_t kMaxResponseHead = 16 * 1024;

struct HttpHead {
  int status = 0;
  std::string reason;
};

// Where the head ends in `received` (one past the blank line), or 0 while it
// is incomplete.
std::size_t response_head_end(std::string_view received);

// Parses a complete head (status line and header fields).
Expected<HttpHead> parse_response_head(std::string_view head);

// The request line and fields an https probe sends.
std::string make_request(std::string_view path, std::string_view host_header,
                         std::string_view user_agent);

}  // namespace meshprobe::detail
