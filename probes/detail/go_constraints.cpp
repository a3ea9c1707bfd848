// The name constraints isValid (crypto/x509/verify.go) checks for every CA
// of a chain over every SAN of the leaf and of the CA itself.
#include <algorithm>
#include <string>

#include "probes/detail/go_internal.h"

namespace meshprobe::detail::go {

namespace {

struct Match {
  bool matched = false;
  std::string error;  // "" when the comparison could be made
};

Match match_domain_constraint(std::string_view domain, std::string_view constraint) {
  if (constraint.empty()) return {true, {}};
  const auto domain_labels = domain_to_reverse_labels(domain);
  if (!domain_labels) return {false, "x509: internal error: cannot parse domain " + quote(domain)};
  bool must_have_subdomains = false;
  if (constraint[0] == '.') {
    must_have_subdomains = true;
    constraint.remove_prefix(1);
  }
  const auto constraint_labels = domain_to_reverse_labels(constraint);
  if (!constraint_labels) {
    return {false, "x509: internal error: cannot parse domain " + quote(constraint)};
  }
  if (domain_labels->size() < constraint_labels->size() ||
      (must_have_subdomains && domain_labels->size() == constraint_labels->size())) {
    return {};
  }
  for (std::size_t i = 0; i < constraint_labels->size(); ++i) {
    if (!equal_fold_ascii((*constraint_labels)[i], (*domain_labels)[i])) return {};
  }
  return {true, {}};
}

Match match_email_constraint(const Mailbox& mailbox, std::string_view constraint) {
  if (constraint.find('@') != std::string_view::npos) {
    const auto c = parse_rfc2821_mailbox(constraint);
    if (!c) return {false, "x509: internal error: cannot parse constraint " + quote(constraint)};
    return {mailbox.local == c->local && equal_fold_ascii(mailbox.domain, c->domain), {}};
  }
  return match_domain_constraint(mailbox.domain, constraint);
}

// net.SplitHostPort's host, or its error.
bool split_host_port(std::string_view hostport, std::string_view* host, std::string* err) {
  auto address_error = [&](const char* why) {
    *err = "address " + std::string(hostport) + ": " + why;
    return false;
  };
  const std::size_t colon = hostport.rfind(':');
  if (colon == std::string_view::npos) return address_error("missing port in address");
  if (!hostport.empty() && hostport[0] == '[') {
    const std::size_t close = hostport.find(']');
    if (close == std::string_view::npos) return address_error("missing ']' in address");
    if (close + 1 == hostport.size()) return address_error("missing port in address");
    if (close + 1 != colon) {
      return address_error(hostport[close + 1] == ':' ? "too many colons in address"
                                                      : "missing port in address");
    }
    *host = hostport.substr(1, close - 1);
  } else {
    *host = hostport.substr(0, colon);
    if (host->find(':') != std::string_view::npos)
      return address_error("too many colons in address");
  }
  return true;
}

Match match_uri_constraint(const std::string& uri, std::string_view uri_host,
                           std::string_view constraint) {
  std::string_view host = uri_host;
  if (host.empty()) {
    return {false,
            "URI with empty host (" + quote(uri) + ") cannot be matched against constraints"};
  }
  if (host.find(':') != std::string_view::npos && host.back() != ']') {
    std::string err;
    if (!split_host_port(uri_host, &host, &err)) return {false, err};
  }
  if ((host.starts_with("[") && host.ends_with("]")) || parse_ip(host)) {
    return {false, "URI with IP (" + quote(uri) + ") cannot be matched against constraints"};
  }
  return match_domain_constraint(host, constraint);
}

Match match_ip_constraint(std::string_view ip, const GoIpNet& constraint) {
  if (ip.size() != constraint.ip.size()) return {};
  for (std::size_t i = 0; i < ip.size(); ++i) {
    const auto mask = static_cast<std::uint8_t>(constraint.mask[i]);
    if ((static_cast<std::uint8_t>(ip[i]) & mask) !=
        (static_cast<std::uint8_t>(constraint.ip[i]) & mask)) {
      return {};
    }
  }
  return {true, {}};
}

// net.IPNet String().
std::string ipnet_string(const GoIpNet& n) {
  int ones = 0;
  bool simple = true;
  bool seen_zero = false;
  for (char ch : n.mask) {
    auto b = static_cast<std::uint8_t>(ch);
    for (int bit = 7; bit >= 0; --bit) {
      const bool one = (b >> bit) & 1;
      if (one && seen_zero) simple = false;
      if (one) {
        ++ones;
      } else {
        seen_zero = true;
      }
    }
  }
  if (simple) return ip_string(n.ip) + "/" + std::to_string(ones);
  std::string hex;
  for (char c : n.mask) {
    hex += kHex[static_cast<std::uint8_t>(c) >> 4];
    hex += kHex[static_cast<std::uint8_t>(c) & 0xf];
  }
  return ip_string(n.ip) + "/" + hex;
}

constexpr const char* kConstraintAdvice =
    "its name constraints do not allow a name of the chain below it (every SAN of the "
    "leaf counts, and the CA's own SANs): reissue the certificate with names inside the "
    "constraints, or the CA with constraints that cover them";

Failure invalid(const GoCert& ca, std::string detail) {
  return {
      Diagnosis::tls_invalid_certificate,
      "x509: a root or intermediate certificate is not authorized to sign for this name: " + detail,
      &ca, kConstraintAdvice};
}

Failure too_many(const GoCert& ca) {
  // CertificateInvalidError has no text for TooManyConstraints.
  return {Diagnosis::tls_invalid_certificate, "x509: unknown error", &ca,
          "checking its name constraints against the SANs below it takes more than Go's "
          "limit of 250000 comparisons (SANs x constraints), so Go gives up: issue fewer "
          "SANs per certificate or fewer constraints"};
}

constexpr const char* kSanAdvice =
    "a SAN of it cannot be read for the name constraint check: reissue it";

// checkNameConstraints for one name against one kind of constraint.
template <typename Constraint, typename MatchFn, typename Show>
Failure check_one(const GoCert& ca, int* count, const char* name_type, std::string_view name,
                  const std::vector<Constraint>& permitted, const std::vector<Constraint>& excluded,
                  MatchFn match, Show show) {
  *count += static_cast<int>(excluded.size());
  if (*count > kMaxConstraintComparisons) return too_many(ca);
  for (const Constraint& constraint : excluded) {
    const Match m = match(constraint);
    if (!m.error.empty()) return invalid(ca, m.error);
    if (m.matched) {
      return invalid(ca, std::string(name_type) + " " + quote(name) +
                             " is excluded by constraint " + quote(show(constraint)));
    }
  }
  *count += static_cast<int>(permitted.size());
  if (*count > kMaxConstraintComparisons) return too_many(ca);
  bool ok = true;
  for (const Constraint& constraint : permitted) {
    const Match m = match(constraint);
    if (!m.error.empty()) return invalid(ca, m.error);
    ok = m.matched;
    if (ok) break;
  }
  if (!ok) {
    return invalid(
        ca, std::string(name_type) + " " + quote(name) + " is not permitted by any constraint");
  }
  return {};
}

std::string_view as_is(const std::string& s) { return s; }

// The constraints of `ca` over the SANs of `san_cert`.
Failure check_sans(const GoCert& ca, const GoCert& san_cert, int* count) {
  const GoNameConstraints& nc = ca.name_constraints;
  Der outer(san_cert.san_value);
  Der der;
  if (!outer.read(tag::kSequence, &der)) {
    return {Diagnosis::tls_invalid_certificate, "x509: invalid subject alternative names",
            &san_cert, kSanAdvice};
  }
  while (!der.empty()) {
    std::uint8_t t = 0;
    Der san;
    if (!der.read_any(&t, &san)) {
      return {Diagnosis::tls_invalid_certificate, "x509: invalid subject alternative name",
              &san_cert, kSanAdvice};
    }
    const std::string name(san.bytes());
    Failure f;
    switch (t ^ 0x80) {
      case 1: {
        const auto mailbox = parse_rfc2821_mailbox(name);
        if (!mailbox) {
          // Go formats the empty mailbox it failed to fill.
          return {Diagnosis::tls_invalid_certificate, "x509: cannot parse rfc822Name {\"\" \"\"}",
                  &san_cert, kSanAdvice};
        }
        f = check_one(
            ca, count, "email address", name, nc.permitted_email, nc.excluded_email,
            [&](const std::string& c) { return match_email_constraint(*mailbox, c); }, as_is);
        break;
      }
      case 2:
        if (!domain_to_reverse_labels(name)) {
          return {Diagnosis::tls_invalid_certificate, "x509: cannot parse dnsName " + quote(name),
                  &san_cert, kSanAdvice};
        }
        f = check_one(
            ca, count, "DNS name", name, nc.permitted_dns, nc.excluded_dns,
            [&](const std::string& c) { return match_domain_constraint(name, c); }, as_is);
        break;
      case 6: {
        const UriHost uri = parse_uri_host(name);
        if (!uri.error.empty()) {
          return {Diagnosis::tls_invalid_certificate,
                  "x509: internal error: URI SAN " + quote(name) + " failed to parse", &san_cert,
                  kSanAdvice};
        }
        f = check_one(
            ca, count, "URI", name, nc.permitted_uri, nc.excluded_uri,
            [&](const std::string& c) { return match_uri_constraint(name, uri.host, c); }, as_is);
        break;
      }
      case 7: {
        if (name.size() != 4 && name.size() != 16) {
          std::string hex;
          for (char c : name) {
            hex += kHex[static_cast<std::uint8_t>(c) >> 4];
            hex += kHex[static_cast<std::uint8_t>(c) & 0xf];
          }
          return {Diagnosis::tls_invalid_certificate,
                  "x509: internal error: IP SAN " + hex + " failed to parse", &san_cert,
                  kSanAdvice};
        }
        f = check_one(
            ca, count, "IP address", ip_string(name), nc.permitted_ip, nc.excluded_ip,
            [&](const GoIpNet& c) { return match_ip_constraint(name, c); }, ipnet_string);
        break;
      }
      default: break;  // other name types are not constrained
    }
    if (f) return f;
  }
  return {};
}

}  // namespace

Failure check_name_constraints(const GoCert& ca, const GoCert& leaf, int* count) {
  if (leaf.has_san) {
    if (Failure f = check_sans(ca, leaf, count)) return f;
  }
  if (ca.has_san) {
    if (Failure f = check_sans(ca, ca, count)) return f;
  }
  return {};
}

}  // namespace meshprobe::detail::go
