#include "config/listen_address.h"

#include <arpa/inet.h>

#include <charconv>

#include "config/invalid_value.h"

namespace meshprobe {
namespace {

constexpr std::string_view kWhat = "listen address";  // for invalid_value

bool is_ip_literal(int family, const std::string& host) {
  unsigned char parsed[sizeof(in6_addr)];
  return inet_pton(family, host.c_str(), parsed) == 1;
}

}  // namespace

std::string ListenAddress::text() const {
  const bool ipv6 = host.find(':') != std::string::npos;
  return (ipv6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

Expected<ListenAddress> parse_listen_address(std::string_view text) {
  constexpr std::string_view kExpected =
      "expected IP:PORT, e.g. 0.0.0.0:9717, 127.0.0.1:9717 or [::]:9717";
  const std::size_t colon = text.rfind(':');
  if (colon == std::string_view::npos) return invalid_value(kWhat, text, kExpected);

  std::string_view host = text.substr(0, colon);
  const std::string_view port_text = text.substr(colon + 1);
  int family = AF_INET;
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
    family = AF_INET6;
  }
  ListenAddress address{std::string(host), 0};
  if (!is_ip_literal(family, address.host)) {
    return invalid_value(kWhat, text,
                         family == AF_INET6 || host.find(':') == std::string_view::npos
                             ? kExpected
                             : "write an IPv6 address in brackets, e.g. [::]:9717");
  }

  unsigned port = 0;
  const auto [end, error] =
      std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (port_text.empty() || error != std::errc{} || end != port_text.data() + port_text.size() ||
      port > 65535) {
    return invalid_value(kWhat, text, "port must be 0-65535");
  }
  address.port = static_cast<std::uint16_t>(port);
  return address;
}

}  // namespace meshprobe
