// A tiny authoritative DNS responder for resolver tests: fixed A/AAAA records
// and names that answer NXDOMAIN, SERVFAIL or nothing at all.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace meshprobe::test {

enum class NameBehaviour { answer, nxdomain, servfail, drop };

class DnsZone {
 public:
  // Names match case-insensitively, with or without a trailing dot. False
  // when `ip` is not an address of the record's family.
  bool add_a(std::string_view name, const std::string& ipv4);
  bool add_aaaa(std::string_view name, const std::string& ipv6);
  void set_behaviour(std::string_view name, NameBehaviour behaviour);

  // The response to one query message, at most `max_size` bytes (longer
  // answers are cut and flagged TC); nullopt when nothing should be sent: a
  // dropped name, a response, or a packet too short to carry an ID.
  std::optional<std::vector<std::uint8_t>> respond(std::span<const std::uint8_t> query,
                                                   std::size_t max_size) const;

 private:
  struct Entry {
    NameBehaviour behaviour = NameBehaviour::answer;
    std::vector<std::array<std::uint8_t, 4>> a;
    std::vector<std::array<std::uint8_t, 16>> aaaa;
  };

  std::map<std::string, Entry> names_;
};

// Serves a zone over UDP and TCP on one address and port, on a thread of its
// own; the destructor stops it.
class DnsTestServer {
 public:
  // Port 0 picks an ephemeral port (the same for both transports).
  DnsTestServer(DnsZone zone, const std::string& ip, std::uint16_t port);
  ~DnsTestServer();
  DnsTestServer(const DnsTestServer&) = delete;
  DnsTestServer& operator=(const DnsTestServer&) = delete;

  std::uint16_t port() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace meshprobe::test
