#include "probes/target.h"

#include <boost/url/parse.hpp>

#include <charconv>

namespace meshprobe {

std::string_view kind_name(ProbeKind kind) {
  switch (kind) {
    case ProbeKind::tcp: return "tcp";
    case ProbeKind::tls: return "tls";
    case ProbeKind::https: return "https";
    case ProbeKind::grpc: return "grpc";
  }
  return "unknown";
}

bool uses_tls(ProbeKind kind) { return kind != ProbeKind::tcp; }

std::string grpc_method_problem(std::string_view method) {
  // Service and method names are protobuf identifiers (the service dotted
  // by its package); anything else would not be a method any server has.
  const auto identifier = [](std::string_view part, bool dotted) {
    if (part.empty() || part.size() > 256) return false;
    for (char c : part) {
      const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                      c == '_' || (dotted && c == '.');
      if (!ok) return false;
    }
    return part.front() != '.' && part.back() != '.';
  };
  const std::size_t slash = method.find('/', 1);
  if (method.empty() || method.front() != '/' || slash == std::string_view::npos ||
      !identifier(method.substr(1, slash - 1), true) ||
      !identifier(method.substr(slash + 1), false)) {
    return "expected a gRPC method path /SERVICE/METHOD, e.g. " + std::string(kDefaultGrpcMethod);
  }
  return "";
}

namespace {

bool parse_kind(std::string_view scheme, ProbeKind& kind) {
  for (ProbeKind k : {ProbeKind::tcp, ProbeKind::tls, ProbeKind::https, ProbeKind::grpc}) {
    if (kind_name(k) == scheme) {
      kind = k;
      return true;
    }
  }
  return false;
}

Error url_error(std::string_view url, std::string_view why) {
  return Error{"invalid target URL \"" + std::string(url) + "\": " + std::string(why)};
}

}  // namespace

Expected<Target> parse_target_url(std::string_view url) {
  auto parsed = boost::urls::parse_uri(url);
  if (!parsed) {
    return url_error(url, "expected SCHEME://HOST:PORT, e.g. tls://istiod.istio-system.svc:15012");
  }
  const auto& u = *parsed;

  Target target;
  target.url = std::string(url);
  target.name = target.url;
  if (!parse_kind(u.scheme(), target.kind)) {
    return url_error(
        url, "unknown scheme \"" + std::string(u.scheme()) + "\" (use tcp, tls, https or grpc)");
  }
  if (u.has_userinfo()) return url_error(url, "credentials in the URL are not supported");

  switch (u.host_type()) {
    case boost::urls::host_type::ipv4:
    case boost::urls::host_type::ipv6:
    case boost::urls::host_type::name: break;
    default: return url_error(url, "missing or unsupported host");
  }
  target.host = u.host_address();  // IPv6 without brackets
  if (target.host.empty()) return url_error(url, "missing host");

  if (u.has_port()) {
    std::string_view port = u.port();
    unsigned value = 0;
    auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
    if (ec != std::errc{} || end != port.data() + port.size() || value == 0 || value > 65535) {
      return url_error(url, "port must be 1-65535");
    }
    target.port = static_cast<std::uint16_t>(value);
  } else if (target.kind == ProbeKind::https) {
    target.port = 443;
  } else {
    return url_error(url, "a port is required for " + std::string(kind_name(target.kind)) + "://");
  }

  if (target.kind == ProbeKind::https) {
    std::string path(u.encoded_path());
    if (path.empty()) path = "/";
    if (u.has_query()) path += "?" + std::string(u.encoded_query());
    target.path = path;
  } else if (!u.encoded_path().empty() && u.encoded_path() != "/") {
    return url_error(url, "a path is only meaningful for https://");
  }
  if (u.has_fragment()) return url_error(url, "fragments are not supported");

  target.server_name = target.host;
  return target;
}

}  // namespace meshprobe
