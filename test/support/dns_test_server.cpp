#include "test/support/dns_test_server.h"

#include <arpa/inet.h>
#include <poll.h>
#include <sys/socket.h>

#include <cerrno>
#include <thread>

#include "test/support/posix_socket.h"

namespace meshprobe::test {
namespace {

constexpr std::size_t kHeaderSize = 12;
constexpr std::size_t kMaxNameLength = 255;
constexpr std::uint16_t kTypeA = 1;
constexpr std::uint16_t kTypeAaaa = 28;
constexpr std::uint16_t kClassIn = 1;
constexpr std::uint32_t kTtlSeconds = 5;
constexpr std::size_t kMaxUdpResponse = 512;
constexpr std::size_t kMaxTcpMessage = 65535;
constexpr std::chrono::milliseconds kTcpIdleTimeout{2000};

enum class Rcode : std::uint16_t {
  noerror = 0,
  formerr = 1,
  servfail = 2,
  nxdomain = 3,
  notimp = 4
};

constexpr std::uint16_t kFlagResponse = 0x8000;
constexpr std::uint16_t kOpcodeMask = 0x7800;
constexpr std::uint16_t kFlagAuthoritative = 0x0400;
constexpr std::uint16_t kFlagTruncated = 0x0200;
constexpr std::uint16_t kFlagRecursionDesired = 0x0100;
constexpr std::uint16_t kFlagRecursionAvailable = 0x0080;

std::string canonical_name(std::string_view name) {
  if (name.ends_with('.')) name.remove_suffix(1);
  std::string lower(name);
  for (char& c : lower) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return lower;
}

std::uint16_t read_u16(std::span<const std::uint8_t> data, std::size_t at) {
  return static_cast<std::uint16_t>(data[at] << 8 | data[at + 1]);
}

void put_u16(std::vector<std::uint8_t>& out, std::uint16_t value) {
  out.push_back(static_cast<std::uint8_t>(value >> 8));
  out.push_back(static_cast<std::uint8_t>(value & 0xff));
}

void put_u32(std::vector<std::uint8_t>& out, std::uint32_t value) {
  put_u16(out, static_cast<std::uint16_t>(value >> 16));
  put_u16(out, static_cast<std::uint16_t>(value & 0xffff));
}

struct Question {
  std::string name;  // canonical
  std::uint16_t type = 0;
  std::uint16_t klass = 0;
  std::size_t end = 0;  // offset just past the question
};

// The single question of `query`, or nullopt when it is malformed. Names in
// a question are never compressed, so a pointer counts as malformed too.
std::optional<Question> parse_question(std::span<const std::uint8_t> query) {
  Question question;
  std::string name;
  std::size_t at = kHeaderSize;
  for (;;) {
    if (at >= query.size()) return std::nullopt;
    std::size_t label_length = query[at++];
    if (label_length == 0) break;
    if (label_length > 63 || at + label_length > query.size()) return std::nullopt;
    if (!name.empty()) name += '.';
    name.append(reinterpret_cast<const char*>(query.data() + at), label_length);
    if (name.size() > kMaxNameLength) return std::nullopt;
    at += label_length;
  }
  if (at + 4 > query.size()) return std::nullopt;
  question.name = canonical_name(name);
  question.type = read_u16(query, at);
  question.klass = read_u16(query, at + 2);
  question.end = at + 4;
  return question;
}

std::vector<std::uint8_t> response_header(std::span<const std::uint8_t> query, Rcode rcode,
                                          std::uint16_t question_count,
                                          std::uint16_t answer_count) {
  std::uint16_t query_flags = read_u16(query, 2);
  std::uint16_t opcode_bits = query_flags & kOpcodeMask;
  std::vector<std::uint8_t> out;
  put_u16(out, read_u16(query, 0));  // ID
  put_u16(out,
          static_cast<std::uint16_t>(kFlagResponse | opcode_bits | kFlagAuthoritative |
                                     (query_flags & kFlagRecursionDesired) |
                                     kFlagRecursionAvailable | static_cast<std::uint16_t>(rcode)));
  put_u16(out, question_count);
  put_u16(out, answer_count);
  put_u16(out, 0);  // authority
  put_u16(out, 0);  // additional
  return out;
}

// Appends one record per address; how many.
template <std::size_t N>
std::uint16_t put_answers(std::vector<std::uint8_t>& out, std::uint16_t type,
                          const std::vector<std::array<std::uint8_t, N>>& addresses) {
  for (const auto& address : addresses) {
    put_u16(out, static_cast<std::uint16_t>(0xc000 | kHeaderSize));  // name: the question's
    put_u16(out, type);
    put_u16(out, kClassIn);
    put_u32(out, kTtlSeconds);
    put_u16(out, static_cast<std::uint16_t>(N));
    out.insert(out.end(), address.begin(), address.end());
  }
  return static_cast<std::uint16_t>(addresses.size());
}

template <std::size_t N>
bool parse_address(int family, const std::string& text, std::array<std::uint8_t, N>& out) {
  return inet_pton(family, text.c_str(), out.data()) == 1;
}

bool read_exactly(int fd, std::uint8_t* data, std::size_t size, const StopSignal& stop) {
  while (size > 0) {
    if (wait_for(fd, POLLIN, stop, kTcpIdleTimeout) != WaitResult::ready) return false;
    ssize_t n = ::recv(fd, data, size, 0);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) continue;
    if (n <= 0) return false;
    data += n;
    size -= static_cast<std::size_t>(n);
  }
  return true;
}

bool send_all(int fd, std::span<const std::uint8_t> data, const StopSignal& stop) {
  while (!data.empty()) {
    ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
      if (wait_for(fd, POLLOUT, stop, kTcpIdleTimeout) != WaitResult::ready) return false;
      continue;
    }
    if (n <= 0) return false;
    data = data.subspan(static_cast<std::size_t>(n));
  }
  return true;
}

}  // namespace

bool DnsZone::add_a(std::string_view name, const std::string& ipv4) {
  std::array<std::uint8_t, 4> address{};
  if (!parse_address(AF_INET, ipv4, address)) return false;
  names_[canonical_name(name)].a.push_back(address);
  return true;
}

bool DnsZone::add_aaaa(std::string_view name, const std::string& ipv6) {
  std::array<std::uint8_t, 16> address{};
  if (!parse_address(AF_INET6, ipv6, address)) return false;
  names_[canonical_name(name)].aaaa.push_back(address);
  return true;
}

void DnsZone::set_behaviour(std::string_view name, NameBehaviour behaviour) {
  names_[canonical_name(name)].behaviour = behaviour;
}

std::optional<std::vector<std::uint8_t>> DnsZone::respond(std::span<const std::uint8_t> query,
                                                          std::size_t max_size) const {
  if (query.size() < kHeaderSize || (read_u16(query, 2) & kFlagResponse) != 0) {
    return std::nullopt;
  }
  if ((read_u16(query, 2) & kOpcodeMask) != 0) return response_header(query, Rcode::notimp, 0, 0);
  std::optional<Question> question;
  if (read_u16(query, 4) == 1) question = parse_question(query);
  if (!question) return response_header(query, Rcode::formerr, 0, 0);

  auto entry = names_.find(question->name);
  Rcode rcode = Rcode::noerror;
  if (entry == names_.end()) {
    rcode = Rcode::nxdomain;
  } else if (entry->second.behaviour == NameBehaviour::drop) {
    return std::nullopt;
  } else if (entry->second.behaviour == NameBehaviour::nxdomain) {
    rcode = Rcode::nxdomain;
  } else if (entry->second.behaviour == NameBehaviour::servfail) {
    rcode = Rcode::servfail;
  }

  // A known name without records of the type asked for gets NOERROR and no
  // answer (NODATA).
  std::vector<std::uint8_t> answers;
  std::uint16_t answer_count = 0;
  if (rcode == Rcode::noerror && question->klass == kClassIn) {
    if (question->type == kTypeA) {
      answer_count = put_answers(answers, kTypeA, entry->second.a);
    } else if (question->type == kTypeAaaa) {
      answer_count = put_answers(answers, kTypeAaaa, entry->second.aaaa);
    }
  }

  std::vector<std::uint8_t> response = response_header(query, rcode, 1, answer_count);
  response.insert(response.end(), query.begin() + kHeaderSize,
                  query.begin() + static_cast<std::ptrdiff_t>(question->end));
  if (response.size() + answers.size() > max_size) {
    response[2] |= kFlagTruncated >> 8;
    response[6] = response[7] = 0;  // no answers
    return response;
  }
  response.insert(response.end(), answers.begin(), answers.end());
  return response;
}

struct DnsTestServer::Impl {
  Impl(DnsZone dns_zone, const std::string& ip, std::uint16_t requested_port)
      : zone(std::move(dns_zone)),
        udp(bind_socket(ip, requested_port, SOCK_DGRAM)),
        port(local_port(udp.get())),
        tcp(bind_socket(ip, port, SOCK_STREAM)),
        thread([this] { serve(); }) {}

  ~Impl() {
    stop.request();
    thread.join();
  }

  void serve() {
    for (;;) {
      pollfd entries[3] = {{udp.get(), POLLIN, 0}, {tcp.get(), POLLIN, 0}, {stop.fd(), POLLIN, 0}};
      if (::poll(entries, 3, -1) < 0 && errno != EINTR) return;
      if (entries[2].revents != 0) return;
      if (entries[0].revents != 0) answer_udp();
      if (entries[1].revents != 0) answer_tcp();
    }
  }

  void answer_udp() {
    std::uint8_t buffer[4096];
    sockaddr_storage peer{};
    socklen_t peer_length = sizeof peer;
    ssize_t n = ::recvfrom(udp.get(), buffer, sizeof buffer, 0, reinterpret_cast<sockaddr*>(&peer),
                           &peer_length);
    if (n <= 0) return;
    auto response = zone.respond({buffer, static_cast<std::size_t>(n)}, kMaxUdpResponse);
    if (response) {
      ::sendto(udp.get(), response->data(), response->size(), 0, reinterpret_cast<sockaddr*>(&peer),
               peer_length);
    }
  }

  // One TCP client at a time, each message framed by a two-byte length. UDP
  // waits meanwhile, which a test resolver never notices.
  void answer_tcp() {
    UniqueFd connection(::accept4(tcp.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC));
    if (!connection) return;
    std::vector<std::uint8_t> message;
    for (;;) {
      std::uint8_t length[2];
      if (!read_exactly(connection.get(), length, 2, stop)) return;
      message.resize(static_cast<std::size_t>(length[0] << 8 | length[1]));
      if (!read_exactly(connection.get(), message.data(), message.size(), stop)) return;
      auto response = zone.respond(message, kMaxTcpMessage);
      if (!response) continue;
      std::vector<std::uint8_t> framed;
      put_u16(framed, static_cast<std::uint16_t>(response->size()));
      framed.insert(framed.end(), response->begin(), response->end());
      if (!send_all(connection.get(), framed, stop)) return;
    }
  }

  DnsZone zone;
  UniqueFd udp;
  std::uint16_t port;
  UniqueFd tcp;
  StopSignal stop;
  std::thread thread;
};

DnsTestServer::DnsTestServer(DnsZone zone, const std::string& ip, std::uint16_t port)
    : impl_(std::make_unique<Impl>(std::move(zone), ip, port)) {}

DnsTestServer::~DnsTestServer() = default;

std::uint16_t DnsTestServer::port() const { return impl_->port; }

}  // namespace meshprobe::test
