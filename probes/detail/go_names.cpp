// Names as Go's crypto/x509 (verify.go) judges them: VerifyHostname and its
// HostnameError, and the pieces of names the name constraints
// (go_constraints.cpp) read: IPs, domains, mailboxes, URIs.
#include <arpa/inet.h>

#include <algorithm>
#include <cstdio>
#include <cstring>

#include "probes/detail/go_internal.h"

namespace meshprobe::detail::go {
namespace {

bool is_digit(char c) { return '0' <= c && c <= '9'; }
bool is_alpha(char c) { return ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z'); }

}  // namespace

std::size_t rune_length(std::string_view s, std::size_t i) {
  const auto c = static_cast<std::uint8_t>(s[i]);
  std::size_t n = 0;
  std::uint32_t cp = 0;
  if (c < 0x80) return 1;
  if ((c & 0xe0) == 0xc0) {
    n = 1;
    cp = c & 0x1f;
  } else if ((c & 0xf0) == 0xe0) {
    n = 2;
    cp = c & 0x0f;
  } else if ((c & 0xf8) == 0xf0) {
    n = 3;
    cp = c & 0x07;
  } else {
    return 0;
  }
  if (s.size() - i <= n) return 0;
  for (std::size_t k = 1; k <= n; ++k) {
    const auto cc = static_cast<std::uint8_t>(s[i + k]);
    if ((cc & 0xc0) != 0x80) return 0;
    cp = (cp << 6) | (cc & 0x3f);
  }
  if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
      cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
    return 0;
  }
  return n + 1;
}

std::string quote(std::string_view s) {
  std::string out = "\"";
  for (std::size_t i = 0; i < s.size();) {
    const char c = s[i];
    const auto b = static_cast<std::uint8_t>(c);
    if (b >= 0x80) {
      const std::size_t n = rune_length(s, i);
      if (n == 0) {
        out += "\\x";
        out += kHex[b >> 4];
        out += kHex[b & 0xf];
        ++i;
      } else {
        // Printable in practice: names are ASCII, and strconv's full
        // printability table is not worth reproducing for the rest.
        out.append(s.substr(i, n));
        i += n;
      }
      continue;
    }
    ++i;
    switch (c) {
      case '"': out += "\\\""; continue;
      case '\\': out += "\\\\"; continue;
      case '\a': out += "\\a"; continue;
      case '\b': out += "\\b"; continue;
      case '\f': out += "\\f"; continue;
      case '\n': out += "\\n"; continue;
      case '\r': out += "\\r"; continue;
      case '\t': out += "\\t"; continue;
      case '\v': out += "\\v"; continue;
      default: break;
    }
    if (b < 0x20 || b == 0x7f) {
      out += "\\x";
      out += kHex[b >> 4];
      out += kHex[b & 0xf];
    } else {
      out += c;
    }
  }
  out += '"';
  return out;
}

namespace {

constexpr unsigned char kV4InV6Prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

bool is_v4_mapped(std::string_view ip) {
  return ip.size() == 16 && std::memcmp(ip.data(), kV4InV6Prefix, 12) == 0;
}

}  // namespace

std::string ip_string(std::string_view raw) {
  char buf[INET6_ADDRSTRLEN] = {};
  if (raw.size() == 4 || is_v4_mapped(raw)) {
    inet_ntop(AF_INET, raw.data() + (raw.size() - 4), buf, sizeof buf);
    return buf;
  }
  if (raw.size() == 16) {
    // RFC 5952, as Go prints it: the longest run of two or more zero
    // groups (the first of equals) becomes "::".
    int best_start = -1;
    int best_len = 0;
    for (int i = 0; i < 8;) {
      if (raw[2 * i] == 0 && raw[2 * i + 1] == 0) {
        int j = i;
        while (j < 8 && raw[2 * j] == 0 && raw[2 * j + 1] == 0) ++j;
        if (j - i > best_len) {
          best_start = i;
          best_len = j - i;
        }
        i = j;
      } else {
        ++i;
      }
    }
    if (best_len < 2) best_start = -1;
    std::string out;
    for (int i = 0; i < 8; ++i) {
      if (i == best_start) {
        out += "::";
        i += best_len - 1;
        continue;
      }
      if (!out.empty() && out.back() != ':') out += ':';
      const unsigned group =
          (static_cast<std::uint8_t>(raw[2 * i]) << 8) | static_cast<std::uint8_t>(raw[2 * i + 1]);
      char g[8];
      std::snprintf(g, sizeof g, "%x", group);
      out += g;
    }
    return out;
  }
  std::string out = "?";
  for (char c : raw) {
    out += kHex[static_cast<std::uint8_t>(c) >> 4];
    out += kHex[static_cast<std::uint8_t>(c) & 0xf];
  }
  return out;
}

std::optional<std::string> parse_ip(std::string_view text) {
  const std::string s(text);
  unsigned char buf[16];
  if (s.find(':') == std::string::npos) {
    if (inet_pton(AF_INET, s.c_str(), buf) != 1) return std::nullopt;
    std::string out(reinterpret_cast<const char*>(kV4InV6Prefix), 12);
    out.append(reinterpret_cast<const char*>(buf), 4);
    return out;
  }
  if (inet_pton(AF_INET6, s.c_str(), buf) != 1) return std::nullopt;
  return std::string(reinterpret_cast<const char*>(buf), 16);
}

bool ip_equal(std::string_view a, std::string_view b) {
  if (a.size() == b.size()) return a == b;
  if (a.size() == 4 && b.size() == 16) return is_v4_mapped(b) && b.substr(12) == a;
  if (a.size() == 16 && b.size() == 4) return is_v4_mapped(a) && a.substr(12) == b;
  return false;
}

std::optional<std::vector<std::string_view>> domain_to_reverse_labels(std::string_view domain) {
  std::vector<std::string_view> labels;
  while (!domain.empty()) {
    const std::size_t dot = domain.rfind('.');
    if (dot == std::string_view::npos) {
      labels.push_back(domain);
      domain = {};
    } else {
      labels.push_back(domain.substr(dot + 1));
      domain = domain.substr(0, dot);
    }
  }
  if (!labels.empty() && labels[0].empty()) return std::nullopt;  // absolute: refused
  for (std::string_view label : labels) {
    if (label.empty()) return std::nullopt;
    // Go ranges over runes: any byte of a multi-byte rune is above 126.
    for (char c : label) {
      const auto b = static_cast<std::uint8_t>(c);
      if (b < 33 || b > 126) return std::nullopt;
    }
  }
  return labels;
}

std::string to_lower_ascii(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if ('A' <= c && c <= 'Z') c = static_cast<char>(c + ('a' - 'A'));
  }
  return out;
}

bool equal_fold_ascii(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    char x = a[i];
    char y = b[i];
    if ('A' <= x && x <= 'Z') x = static_cast<char>(x + 32);
    if ('A' <= y && y <= 'Z') y = static_cast<char>(y + 32);
    if (x != y) return false;
  }
  return true;
}

namespace {

std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> parts;
  while (true) {
    const std::size_t at = s.find(sep);
    parts.push_back(s.substr(0, at));
    if (at == std::string_view::npos) break;
    s.remove_prefix(at + 1);
  }
  return parts;
}

// validHostname: RFC 6125 2.2 with Go's leniency (underscores; a pattern
// may start with a whole "*" label; an input may end in a dot).
bool valid_hostname(std::string_view host, bool is_pattern) {
  if (!is_pattern && !host.empty() && host.back() == '.') host.remove_suffix(1);
  if (host.empty()) return false;
  const auto parts = split(host, '.');
  for (std::size_t i = 0; i < parts.size(); ++i) {
    const std::string_view part = parts[i];
    if (part.empty()) return false;
    if (is_pattern && i == 0 && part == "*") continue;
    for (std::size_t j = 0; j < part.size(); ++j) {
      const char c = part[j];
      if (is_alpha(c) || is_digit(c) || c == '_' || (c == '-' && j != 0)) continue;
      return false;
    }
  }
  return true;
}

bool match_exactly(std::string_view a, std::string_view b) {
  if (a.empty() || a == "." || b.empty() || b == ".") return false;
  return to_lower_ascii(a) == to_lower_ascii(b);
}

}  // namespace

bool match_hostnames(std::string_view pattern_in, std::string_view host_in) {
  const std::string pattern = to_lower_ascii(pattern_in);
  if (!host_in.empty() && host_in.back() == '.') host_in.remove_suffix(1);
  const std::string host = to_lower_ascii(host_in);
  if (pattern.empty() || host.empty()) return false;
  const auto pattern_parts = split(pattern, '.');
  const auto host_parts = split(host, '.');
  if (pattern_parts.size() != host_parts.size()) return false;
  for (std::size_t i = 0; i < pattern_parts.size(); ++i) {
    if (i == 0 && pattern_parts[i] == "*") continue;
    if (pattern_parts[i] != host_parts[i]) return false;
  }
  return true;
}

namespace {

// Joins at most kMaxNamesListed names: Go lists every one, which for a
// certificate of thousands of SANs makes a message no one reads.
std::string join_names(const std::vector<std::string>& names, bool ips) {
  std::string out;
  const std::size_t shown = std::min(names.size(), kMaxNamesListed);
  for (std::size_t i = 0; i < shown; ++i) {
    if (i > 0) out += ", ";
    out += ips ? ip_string(names[i]) : names[i];
  }
  if (names.size() > shown) {
    out += ", ... " + std::to_string(names.size() - shown) + " more";
  }
  return out;
}

// HostnameError.Error().
std::string hostname_error(const GoCert& c, std::string_view host) {
  if (!c.has_san && match_hostnames(c.common_name, host)) {
    return "x509: certificate relies on legacy Common Name field, use SANs instead";
  }
  std::string valid;
  if (parse_ip(host)) {
    if (c.ip_addresses.empty()) {
      return "x509: cannot validate certificate for " + std::string(host) +
             " because it doesn't contain any IP SANs";
    }
    valid = join_names(c.ip_addresses, true);
  } else {
    valid = join_names(c.dns_names, false);
  }
  if (valid.empty()) {
    return "x509: certificate is not valid for any names, but wanted to match " + std::string(host);
  }
  return "x509: certificate is valid for " + valid + ", not " + std::string(host);
}

}  // namespace

std::optional<std::string> verify_hostname(const GoCert& c, std::string_view h) {
  std::string_view candidate_ip = h;
  if (h.size() >= 3 && h.front() == '[' && h.back() == ']') {
    candidate_ip = h.substr(1, h.size() - 2);
  }
  if (auto ip = parse_ip(candidate_ip)) {
    for (const std::string& san : c.ip_addresses) {
      if (ip_equal(*ip, san)) return std::nullopt;
    }
    return hostname_error(c, candidate_ip);
  }
  const std::string candidate = to_lower_ascii(h);
  const bool valid_candidate = valid_hostname(candidate, false);
  for (const std::string& match : c.dns_names) {
    if (valid_candidate && valid_hostname(match, true)) {
      if (match_hostnames(match, candidate)) return std::nullopt;
    } else if (match_exactly(match, candidate)) {
      return std::nullopt;
    }
  }
  return hostname_error(c, h);
}

// ---- rfc2821 mailboxes --------------------------------------------------------

std::optional<Mailbox> parse_rfc2821_mailbox(std::string_view in) {
  if (in.empty()) return std::nullopt;
  std::string local;
  if (in[0] == '"') {
    in.remove_prefix(1);
    while (true) {
      if (in.empty()) return std::nullopt;
      const auto c = static_cast<std::uint8_t>(in[0]);
      in.remove_prefix(1);
      if (c == '"') break;
      if (c == '\\') {
        if (in.empty()) return std::nullopt;
        const auto n = static_cast<std::uint8_t>(in[0]);
        if (n == 11 || n == 12 || (1 <= n && n <= 9) || (14 <= n && n <= 127)) {
          local += static_cast<char>(n);
          in.remove_prefix(1);
          continue;
        }
        return std::nullopt;
      }
      if (c == 11 || c == 12 || c == 32 || c == 33 || c == 127 || (1 <= c && c <= 8) ||
          (14 <= c && c <= 31) || (35 <= c && c <= 91) || (93 <= c && c <= 126)) {
        local += static_cast<char>(c);
        continue;
      }
      return std::nullopt;
    }
  } else {
    static constexpr std::string_view kAtext = "!#$%&'*+-/=?^_`{|}~.";
    while (!in.empty()) {
      char c = in[0];
      if (c == '\\') {
        in.remove_prefix(1);
        if (in.empty()) return std::nullopt;
        local += in[0];
        in.remove_prefix(1);
        continue;
      }
      if (is_alpha(c) || is_digit(c) || kAtext.find(c) != std::string_view::npos) {
        local += c;
        in.remove_prefix(1);
        continue;
      }
      break;
    }
    if (local.empty()) return std::nullopt;
    if (local.front() == '.' || local.back() == '.' || local.find("..") != std::string::npos) {
      return std::nullopt;
    }
  }
  if (in.empty() || in[0] != '@') return std::nullopt;
  in.remove_prefix(1);
  if (!domain_to_reverse_labels(in)) return std::nullopt;
  return Mailbox{std::move(local), std::string(in)};
}

// ---- URIs ------------------------------------------------------------------

namespace {

bool valid_optional_port(std::string_view port) {
  if (port.empty()) return true;
  if (port[0] != ':') return false;
  for (char c : port.substr(1)) {
    if (!is_digit(c)) return false;
  }
  return true;
}

int unhex(char c) {
  if (is_digit(c)) return c - '0';
  if ('a' <= c && c <= 'f') return c - 'a' + 10;
  if ('A' <= c && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool host_char_needs_escape(char c) {
  if (is_alpha(c) || is_digit(c)) return false;
  static constexpr std::string_view kAllowed = "!$&'()*+,;=:[]<>\"-_.~";
  return kAllowed.find(c) == std::string_view::npos;
}

// url.unescape: the text, or the error.
bool unescape(std::string_view s, bool host, std::string* out, std::string* err) {
  out->clear();
  for (std::size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (c == '%') {
      if (i + 2 >= s.size()) {
        *err = "invalid URL escape " + quote(s.substr(i, 3));
        return false;
      }
      const int hi = unhex(s[i + 1]);
      const int lo = unhex(s[i + 2]);
      if (hi < 0 || lo < 0) {
        *err = "invalid URL escape " + quote(s.substr(i, 3));
        return false;
      }
      if (host && hi < 8 && s.substr(i, 3) != "%25") {
        *err = "invalid URL escape " + quote(s.substr(i, 3));
        return false;
      }
      *out += static_cast<char>(hi * 16 + lo);
      i += 2;
      continue;
    }
    if (host && static_cast<std::uint8_t>(c) < 0x80 && host_char_needs_escape(c)) {
      *err = "invalid character " + quote(s.substr(i, 1)) + " in host name";
      return false;
    }
    *out += c;
  }
  return true;
}

bool valid_userinfo(std::string_view s) {
  static constexpr std::string_view kAllowed = "-._:~!$&'()*+,;=%@";
  for (char c : s) {
    if (is_alpha(c) || is_digit(c) || kAllowed.find(c) != std::string_view::npos) continue;
    return false;
  }
  return true;
}

std::string url_error(std::string_view url, const std::string& why) {
  return "parse " + quote(url) + ": " + why;
}

}  // namespace

UriHost parse_uri_host(std::string_view raw) {
  UriHost result;
  const std::size_t hash = raw.find('#');
  const std::string_view u = raw.substr(0, hash);
  for (char c : raw) {
    if (static_cast<std::uint8_t>(c) < 0x20 || c == 0x7f) {
      result.error = url_error(u, "net/url: invalid control character in URL");
      return result;
    }
  }
  if (u == "*") return result;
  // getScheme
  std::string_view scheme;
  std::string_view rest = u;
  for (std::size_t i = 0; i < u.size(); ++i) {
    const char c = u[i];
    if (is_alpha(c)) continue;
    if (is_digit(c) || c == '+' || c == '-' || c == '.') {
      if (i == 0) break;
      continue;
    }
    if (c == ':') {
      if (i == 0) {
        result.error = url_error(u, "missing protocol scheme");
        return result;
      }
      scheme = u.substr(0, i);
      rest = u.substr(i + 1);
    }
    break;
  }
  if (!rest.empty() && rest.back() == '?' && std::count(rest.begin(), rest.end(), '?') == 1) {
    rest.remove_suffix(1);
  } else {
    rest = rest.substr(0, rest.find('?'));
  }
  if (rest.empty() || rest[0] != '/') {
    if (!scheme.empty()) return result;  // opaque: no host
    const std::string_view segment = rest.substr(0, rest.find('/'));
    if (segment.find(':') != std::string_view::npos) {
      result.error = url_error(u, "first path segment in URL cannot contain colon");
      return result;
    }
  }
  std::string_view path = rest;
  if (rest.starts_with("//") && (!scheme.empty() || !rest.starts_with("///"))) {
    std::string_view authority = rest.substr(2);
    path = {};
    if (const std::size_t slash = authority.find('/'); slash != std::string_view::npos) {
      path = authority.substr(slash);
      authority = authority.substr(0, slash);
    }
    const std::size_t at = authority.rfind('@');
    std::string_view host = at == std::string_view::npos ? authority : authority.substr(at + 1);
    if (!host.empty() && host[0] == '[') {
      const std::size_t close = host.rfind(']');
      if (close == std::string_view::npos) {
        result.error = url_error(u, "missing ']' in host");
        return result;
      }
      const std::string_view port = host.substr(close + 1);
      if (!valid_optional_port(port)) {
        result.error = url_error(u, "invalid port " + quote(port) + " after host");
        return result;
      }
    } else if (const std::size_t colon = host.rfind(':'); colon != std::string_view::npos) {
      const std::string_view port = host.substr(colon);
      if (!valid_optional_port(port)) {
        result.error = url_error(u, "invalid port " + quote(port) + " after host");
        return result;
      }
    }
    std::string why;
    if (!unescape(host, true, &result.host, &why)) {
      result.host.clear();
      result.error = url_error(u, why);
      return result;
    }
    if (at != std::string_view::npos && !valid_userinfo(authority.substr(0, at))) {
      result.host.clear();
      result.error = url_error(u, "net/url: invalid userinfo");
      return result;
    }
  }
  std::string ignored;
  std::string why;
  if (!unescape(path, false, &ignored, &why)) {
    result.host.clear();
    result.error = url_error(u, why);
    return result;
  }
  if (hash != std::string_view::npos && !unescape(raw.substr(hash + 1), false, &ignored, &why)) {
    result.host.clear();
    result.error = url_error(raw, why);
  }
  return result;
}

}  // namespace meshprobe::detail::go
