#include "probes/detail/socket_errors.h"

#include <arpa/inet.h>
#include <linux/errqueue.h>
#include <netinet/icmp6.h>
#include <netinet/in.h>
#include <netinet/ip_icmp.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <optional>

namespace meshprobe::detail {
namespace {

struct IcmpReport {
  bool ipv6 = false;
  int type = 0;
  int code = 0;
  std::string offender;  // who sent it; empty when the kernel did not say
};

std::string address_text(const sockaddr* sa) {
  char buf[INET6_ADDRSTRLEN] = {};
  if (sa->sa_family == AF_INET) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(sa);
    inet_ntop(AF_INET, &in->sin_addr, buf, sizeof buf);
  } else if (sa->sa_family == AF_INET6) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(sa);
    inet_ntop(AF_INET6, &in6->sin6_addr, buf, sizeof buf);
  }
  return buf;
}

std::optional<IcmpReport> read_icmp_report(int fd) {
  if (fd < 0) return std::nullopt;
  alignas(cmsghdr) char control[512];
  char data[64];
  iovec iov{data, sizeof data};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  if (recvmsg(fd, &msg, MSG_ERRQUEUE | MSG_DONTWAIT) < 0) return std::nullopt;

  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
    const bool v4 = c->cmsg_level == SOL_IP && c->cmsg_type == IP_RECVERR;
    const bool v6 = c->cmsg_level == SOL_IPV6 && c->cmsg_type == IPV6_RECVERR;
    if (!v4 && !v6) continue;
    sock_extended_err ee;
    std::memcpy(&ee, CMSG_DATA(c), sizeof ee);
    if (ee.ee_origin != SO_EE_ORIGIN_ICMP && ee.ee_origin != SO_EE_ORIGIN_ICMP6) {
      continue;
    }
    IcmpReport report;
    report.ipv6 = ee.ee_origin == SO_EE_ORIGIN_ICMP6;
    report.type = ee.ee_type;
    report.code = ee.ee_code;
    // The offender address follows the extended error in the control data.
    const auto* offender =
        reinterpret_cast<const sockaddr*>(CMSG_DATA(c) + sizeof(sock_extended_err));
    if (offender->sa_family != AF_UNSPEC) report.offender = address_text(offender);
    return report;
  }
  return std::nullopt;
}

std::string icmp_name(const IcmpReport& r) {
  if (!r.ipv6 && r.type == ICMP_DEST_UNREACH) {
    switch (r.code) {
      case ICMP_NET_UNREACH: return "ICMP net-unreachable";
      case ICMP_HOST_UNREACH: return "ICMP host-unreachable";
      case ICMP_PROT_UNREACH: return "ICMP protocol-unreachable";
      case ICMP_PORT_UNREACH: return "ICMP port-unreachable";
      case ICMP_NET_ANO: return "ICMP net-prohibited";
      case ICMP_HOST_ANO: return "ICMP host-prohibited";
      case ICMP_PKT_FILTERED: return "ICMP admin-prohibited";
      default: break;
    }
  }
  if (r.ipv6 && r.type == ICMP6_DST_UNREACH) {
    switch (r.code) {
      case ICMP6_DST_UNREACH_NOROUTE: return "ICMPv6 no-route";
      case ICMP6_DST_UNREACH_ADMIN: return "ICMPv6 admin-prohibited";
      case ICMP6_DST_UNREACH_ADDR: return "ICMPv6 address-unreachable";
      case ICMP6_DST_UNREACH_NOPORT: return "ICMPv6 port-unreachable";
      default: break;
    }
  }
  return std::string(r.ipv6 ? "ICMPv6" : "ICMP") + " type " + std::to_string(r.type) + " code " +
         std::to_string(r.code);
}

// Names the sender of an ICMP error relative to the probe's own path.
std::string sender(const IcmpReport& r, const std::string& target, const std::string& local) {
  if (r.offender.empty()) return "";
  if (r.offender == target) return " from the target " + r.offender;
  if (r.offender == local) return " from this node's own firewall (" + r.offender + ")";
  return " from " + r.offender + " (a router or firewall on the path)";
}

bool is_port_unreachable(const IcmpReport& r) {
  return r.ipv6 ? (r.type == ICMP6_DST_UNREACH && r.code == ICMP6_DST_UNREACH_NOPORT)
                : (r.type == ICMP_DEST_UNREACH && r.code == ICMP_PORT_UNREACH);
}

}  // namespace

void enable_icmp_error_queue(int fd, bool ipv6) {
  int on = 1;
  if (ipv6) {
    setsockopt(fd, SOL_IPV6, IPV6_RECVERR, &on, sizeof on);
  } else {
    setsockopt(fd, SOL_IP, IP_RECVERR, &on, sizeof on);
  }
}

bool is_local_resource_error(int error) {
  switch (error) {
    case EMFILE:
    case ENFILE:
    case ENOBUFS:
    case ENOMEM:
    case EADDRNOTAVAIL:  // ephemeral ports exhausted
      return true;
    default: return false;
  }
}

ConnectVerdict classify_connect_failure(int fd, int error, const std::string& target,
                                        const std::string& local) {
  if (is_local_resource_error(error)) {
    return {Diagnosis::local_resource,
            std::string("cannot open a connection on this machine: ") + std::strerror(error)};
  }
  const std::optional<IcmpReport> icmp = read_icmp_report(fd);

  if (error == ECONNREFUSED) {
    if (icmp && is_port_unreachable(*icmp)) {
      return {Diagnosis::tcp_refused, "connection refused: " + icmp_name(*icmp) +
                                          sender(*icmp, target, local) +
                                          " (a REJECT rule, as kube-proxy installs for a Service "
                                          "without ready endpoints)"};
    }
    return {Diagnosis::tcp_refused,
            "connection refused: " + target +
                " answered the SYN with a TCP reset (nothing listens on the "
                "port)"};
  }
  if (icmp) {
    return {Diagnosis::tcp_unreachable,
            "unreachable: " + icmp_name(*icmp) + sender(*icmp, target, local)};
  }
  switch (error) {
    case EHOSTUNREACH: return {Diagnosis::tcp_unreachable, "no route to host " + target};
    case ENETUNREACH:
      return {Diagnosis::tcp_unreachable,
              "network unreachable: this node has no route to " + target};
    case EPERM:
    case EACCES:
      return {Diagnosis::tcp_unreachable, "blocked by a firewall rule on this node (" +
                                              std::string(std::strerror(error)) + ")"};
    case ETIMEDOUT:
      return {Diagnosis::tcp_timeout, "the kernel gave up retrying the SYN: nothing answered"};
    case ECONNRESET: return {Diagnosis::tcp_refused, "connection reset during connect"};
    default:
      return {Diagnosis::tcp_unreachable, std::string("connect failed: ") + std::strerror(error)};
  }
}

}  // namespace meshprobe::detail
