// The extensions of a certificate as crypto/x509's processExtensions reads
// them: subjectAltName, nameConstraints, key usages, basic constraints, key
// identifiers, policies, CRL distribution points and authority info access.
#include <string>
#include <vector>

#include "probes/detail/go_internal.h"

namespace meshprobe::detail::go {
namespace {

constexpr std::string_view kOidExtensionPrefix{"\x55\x1d", 2};  // 2.5.29
constexpr std::string_view kOidAuthorityInfoAccess{"\x2b\x06\x01\x05\x05\x07\x01\x01", 8};

struct EkuOid {
  std::string_view oid;
  GoExtKeyUsage usage;
};

constexpr EkuOid kEkuOids[] = {
    {{"\x55\x1d\x25\x00", 4}, GoExtKeyUsage::any},
    {{"\x2b\x06\x01\x05\x05\x07\x03\x01", 8}, GoExtKeyUsage::server_auth},
    {{"\x2b\x06\x01\x05\x05\x07\x03\x02", 8}, GoExtKeyUsage::client_auth},
    {{"\x2b\x06\x01\x05\x05\x07\x03\x03", 8}, GoExtKeyUsage::code_signing},
    {{"\x2b\x06\x01\x05\x05\x07\x03\x04", 8}, GoExtKeyUsage::email_protection},
    {{"\x2b\x06\x01\x05\x05\x07\x03\x05", 8}, GoExtKeyUsage::ipsec_end_system},
    {{"\x2b\x06\x01\x05\x05\x07\x03\x06", 8}, GoExtKeyUsage::ipsec_tunnel},
    {{"\x2b\x06\x01\x05\x05\x07\x03\x07", 8}, GoExtKeyUsage::ipsec_user},
    {{"\x2b\x06\x01\x05\x05\x07\x03\x08", 8}, GoExtKeyUsage::time_stamping},
    {{"\x2b\x06\x01\x05\x05\x07\x03\x09", 8}, GoExtKeyUsage::ocsp_signing},
    {{"\x2b\x06\x01\x04\x01\x82\x37\x0a\x03\x03", 10},
     GoExtKeyUsage::microsoft_server_gated_crypto},
    {{"\x60\x86\x48\x01\x86\xf8\x42\x04\x01", 9}, GoExtKeyUsage::netscape_server_gated_crypto},
    {{"\x2b\x06\x01\x04\x01\x82\x37\x02\x01\x16", 10},
     GoExtKeyUsage::microsoft_commercial_code_signing},
    {{"\x2b\x06\x01\x04\x01\x82\x37\x3d\x01\x01", 10},
     GoExtKeyUsage::microsoft_kernel_code_signing},
};

// forEachSAN over a SAN extension value, as parseSANExtension reads it.
bool parse_san(std::string_view value, GoCert* cert, bool* unhandled, std::string* err) {
  Der outer(value);
  Der der;
  if (!outer.read(tag::kSequence, &der)) {
    *err = "x509: invalid subject alternative names";
    return false;
  }
  while (!der.empty()) {
    std::uint8_t t = 0;
    Der san;
    if (!der.read_any(&t, &san)) {
      *err = "x509: invalid subject alternative name";
      return false;
    }
    const std::string_view data = san.bytes();
    switch (t ^ 0x80) {
      case 1:
        if (!go::is_ia5(data)) {
          *err = "x509: SAN rfc822Name is malformed";
          return false;
        }
        cert->email_addresses.emplace_back(data);
        break;
      case 2:
        if (!go::is_ia5(data)) {
          *err = "x509: SAN dNSName is malformed";
          return false;
        }
        cert->dns_names.emplace_back(data);
        break;
      case 6: {
        if (!go::is_ia5(data)) {
          *err = "x509: SAN uniformResourceIdentifier is malformed";
          return false;
        }
        const go::UriHost uri = go::parse_uri_host(data);
        if (!uri.error.empty()) {
          *err = "x509: cannot parse URI " + go::quote(data) + ": " + uri.error;
          return false;
        }
        if (!uri.host.empty() && !go::domain_to_reverse_labels(uri.host)) {
          *err = "x509: cannot parse URI " + go::quote(data) + ": invalid domain";
          return false;
        }
        cert->uris.emplace_back(data);
        break;
      }
      case 7:
        if (data.size() != 4 && data.size() != 16) {
          *err = "x509: cannot parse IP address of length " + std::to_string(data.size());
          return false;
        }
        cert->ip_addresses.emplace_back(data);
        break;
      default: break;
    }
  }
  if (cert->dns_names.empty() && cert->email_addresses.empty() && cert->ip_addresses.empty() &&
      cert->uris.empty()) {
    *unhandled = true;  // nothing Go reads: a critical one is unhandled
  }
  return true;
}

bool valid_ip_mask(std::string_view mask) {
  bool seen_zero = false;
  for (char ch : mask) {
    const auto b = static_cast<std::uint8_t>(ch);
    if (seen_zero) {
      if (b != 0) return false;
      continue;
    }
    switch (b) {
      case 0x00:
      case 0x80:
      case 0xc0:
      case 0xe0:
      case 0xf0:
      case 0xf8:
      case 0xfc:
      case 0xfe: seen_zero = true; break;
      case 0xff: break;
      default: return false;
    }
  }
  return true;
}

std::string not_ia5_error(std::string_view s) {
  return "x509: invalid constraint value: x509: " + go::quote(s) +
         " cannot be encoded as an IA5String";
}

bool parse_subtrees(Der subtrees, std::vector<std::string>* dns, std::vector<GoIpNet>* ips,
                    std::vector<std::string>* emails, std::vector<std::string>* uris,
                    bool* unhandled, std::string* err) {
  while (!subtrees.empty()) {
    Der seq;
    std::uint8_t t = 0;
    Der value_der;
    if (!subtrees.read(tag::kSequence, &seq) || !seq.read_any(&t, &value_der)) {
      *err = "x509: invalid NameConstraints extension";
      return false;
    }
    const std::string_view value = value_der.bytes();
    if (t == tag::implicit_tag(2)) {
      if (!go::is_ia5(value)) {
        *err = not_ia5_error(value);
        return false;
      }
      std::string_view trimmed = value;
      if (!trimmed.empty() && trimmed[0] == '.') trimmed.remove_prefix(1);
      if (!go::domain_to_reverse_labels(trimmed)) {
        *err = "x509: failed to parse dnsName constraint " + go::quote(value);
        return false;
      }
      dns->emplace_back(value);
    } else if (t == tag::implicit_tag(7)) {
      if (value.size() != 8 && value.size() != 32) {
        *err = "x509: IP constraint contained value of length " + std::to_string(value.size());
        return false;
      }
      const std::size_t half = value.size() / 2;
      const std::string_view mask = value.substr(half);
      if (!valid_ip_mask(mask)) {
        static constexpr char kHex[] = "0123456789abcdef";
        std::string hex;
        for (char c : mask) {
          hex += kHex[static_cast<std::uint8_t>(c) >> 4];
          hex += kHex[static_cast<std::uint8_t>(c) & 0xf];
        }
        *err = "x509: IP constraint contained invalid mask " + hex;
        return false;
      }
      ips->push_back({std::string(value.substr(0, half)), std::string(mask)});
    } else if (t == tag::implicit_tag(1)) {
      if (!go::is_ia5(value)) {
        *err = not_ia5_error(value);
        return false;
      }
      if (value.find('@') != std::string_view::npos) {
        if (!go::parse_rfc2821_mailbox(value)) {
          *err = "x509: failed to parse rfc822Name constraint " + go::quote(value);
          return false;
        }
      } else {
        std::string_view domain = value;
        if (!domain.empty() && domain[0] == '.') domain.remove_prefix(1);
        if (!go::domain_to_reverse_labels(domain)) {
          *err = "x509: failed to parse rfc822Name constraint " + go::quote(value);
          return false;
        }
      }
      emails->emplace_back(value);
    } else if (t == tag::implicit_tag(6)) {
      if (!go::is_ia5(value)) {
        *err = not_ia5_error(value);
        return false;
      }
      if (go::parse_ip(value)) {
        *err =
            "x509: failed to parse URI constraint " + go::quote(value) + ": cannot be IP address";
        return false;
      }
      std::string_view trimmed = value;
      if (!trimmed.empty() && trimmed[0] == '.') trimmed.remove_prefix(1);
      if (!go::domain_to_reverse_labels(trimmed)) {
        *err = "x509: failed to parse URI constraint " + go::quote(value);
        return false;
      }
      uris->emplace_back(value);
    } else {
      *unhandled = true;
    }
  }
  return true;
}

bool parse_name_constraints(std::string_view value, GoCert* cert, bool* unhandled,
                            std::string* err) {
  Der outer(value);
  Der toplevel, permitted, excluded;
  bool have_permitted = false;
  bool have_excluded = false;
  if (!outer.read(tag::kSequence, &toplevel) || !outer.empty() ||
      !toplevel.read_optional(tag::explicit_tag(0), &permitted, &have_permitted) ||
      !toplevel.read_optional(tag::explicit_tag(1), &excluded, &have_excluded) ||
      !toplevel.empty()) {
    *err = "x509: invalid NameConstraints extension";
    return false;
  }
  if ((!have_permitted && !have_excluded) || (permitted.empty() && excluded.empty())) {
    *err = "x509: empty name constraints extension";
    return false;
  }
  GoNameConstraints& nc = cert->name_constraints;
  return parse_subtrees(permitted, &nc.permitted_dns, &nc.permitted_ip, &nc.permitted_email,
                        &nc.permitted_uri, unhandled, err) &&
         parse_subtrees(excluded, &nc.excluded_dns, &nc.excluded_ip, &nc.excluded_email,
                        &nc.excluded_uri, unhandled, err);
}

bool parse_crl_distribution_points(std::string_view value, std::string* err) {
  Der outer(value);
  Der val;
  if (!outer.read(tag::kSequence, &val)) {
    *err = "x509: invalid CRL distribution points";
    return false;
  }
  while (!val.empty()) {
    Der dp;
    if (!val.read(tag::kSequence, &dp)) {
      *err = "x509: invalid CRL distribution point";
      return false;
    }
    Der name;
    bool present = false;
    if (!dp.read_optional(tag::explicit_tag(0), &name, &present)) {
      *err = "x509: invalid CRL distribution point";
      return false;
    }
    if (!present) continue;
    Der full;
    if (!name.read(tag::explicit_tag(0), &full)) {
      *err = "x509: invalid CRL distribution point";
      return false;
    }
    while (!full.empty()) {
      if (!full.peek(tag::implicit_tag(6))) break;
      if (!full.read(tag::implicit_tag(6), nullptr)) {
        *err = "x509: invalid CRL distribution point";
        return false;
      }
    }
  }
  return true;
}

bool parse_authority_info_access(std::string_view value, std::string* err) {
  Der outer(value);
  Der val;
  if (!outer.read(tag::kSequence, &val)) {
    *err = "x509: invalid authority info access";
    return false;
  }
  while (!val.empty()) {
    Der aia;
    std::string_view method;
    if (!val.read(tag::kSequence, &aia) || !aia.read_oid(&method)) {
      *err = "x509: invalid authority info access";
      return false;
    }
    if (!aia.peek(tag::implicit_tag(6))) continue;
    if (!aia.read(tag::implicit_tag(6), nullptr)) {
      *err = "x509: invalid authority info access";
      return false;
    }
  }
  return true;
}

// keyUsage: the first nine bits.
bool parse_key_usage(Der der, GoCert* cert, std::string* err) {
  std::string_view bits;
  std::size_t bit_length = 0;
  if (!der.read_bit_string(&bits, &bit_length)) {
    *err = "x509: invalid key usage";
    return false;
  }
  unsigned usage = 0;
  for (std::size_t i = 0; i < 9; ++i) {
    if (i < bit_length && (static_cast<std::uint8_t>(bits[i / 8]) >> (7 - i % 8)) & 1) {
      usage |= 1u << i;
    }
  }
  cert->key_usage = usage;
  return true;
}

// basicConstraints: cA and pathLenConstraint (-1 when absent).
bool parse_basic_constraints(Der der, GoCert* cert, std::string* err) {
  Der seq;
  if (!der.read(tag::kSequence, &seq)) {
    *err = "x509: invalid basic constraints a";
    return false;
  }
  bool is_ca = false;
  if (seq.peek(tag::kBoolean) && !seq.read_boolean(&is_ca)) {
    *err = "x509: invalid basic constraints b";
    return false;
  }
  std::int64_t max_path_len = -1;
  if (!seq.empty() && seq.peek(tag::kInteger) && !seq.read_int64(&max_path_len)) {
    *err = "x509: invalid basic constraints c";
    return false;
  }
  cert->is_ca = is_ca;
  cert->max_path_len = max_path_len;
  cert->basic_constraints_valid = true;
  return true;
}

// authorityKeyIdentifier: its keyIdentifier, when present.
bool parse_authority_key_id(Der der, GoCert* cert, std::string* err) {
  Der akid;
  if (!der.read(tag::kSequence, &akid)) {
    *err = "x509: invalid authority key identifier";
    return false;
  }
  if (akid.peek(tag::implicit_tag(0))) {
    Der id_value;
    if (!akid.read(tag::implicit_tag(0), &id_value)) {
      *err = "x509: invalid authority key identifier";
      return false;
    }
    cert->authority_key_id = id_value.bytes();
  }
  return true;
}

// extKeyUsage: the usages Go knows, and whether there were others.
bool parse_ext_key_usage(Der der, GoCert* cert, std::string* err) {
  Der seq;
  if (!der.read(tag::kSequence, &seq)) {
    *err = "x509: invalid extended key usages";
    return false;
  }
  std::vector<GoExtKeyUsage> usages;
  bool unknown = false;
  while (!seq.empty()) {
    std::string_view oid;
    if (!seq.read_oid(&oid)) {
      *err = "x509: invalid extended key usages";
      return false;
    }
    bool known = false;
    for (const auto& e : kEkuOids) {
      if (e.oid == oid) {
        usages.push_back(e.usage);
        known = true;
        break;
      }
    }
    if (!known) unknown = true;
  }
  cert->ext_key_usage = std::move(usages);
  cert->has_unknown_ext_key_usage = unknown;
  return true;
}

// subjectKeyIdentifier.
bool parse_subject_key_id(Der der, GoCert* cert, std::string* err) {
  Der skid;
  if (!der.read(tag::kOctetString, &skid)) {
    *err = "x509: invalid subject key identifier";
    return false;
  }
  cert->subject_key_id = skid.bytes();
  return true;
}

// certificatePolicies: well formed; Go keeps the OIDs, the verifier needs none.
bool parse_certificate_policies(Der der, std::string* err) {
  Der seq;
  if (!der.read(tag::kSequence, &seq)) {
    *err = "x509: invalid certificate policies";
    return false;
  }
  while (!seq.empty()) {
    Der cp;
    std::string_view oid;
    if (!seq.read(tag::kSequence, &cp) || !cp.read_oid(&oid)) {
      *err = "x509: invalid certificate policies";
      return false;
    }
  }
  return true;
}

}  // namespace

// processExtensions: one extension.
bool process_extension(GoCert* cert, std::string_view id, bool critical, std::string_view value,
                       std::string* err) {
  bool unhandled = false;
  if (id.size() == 3 && id.substr(0, 2) == kOidExtensionPrefix) {
    Der der(value);
    switch (static_cast<std::uint8_t>(id[2])) {
      case 15:  // keyUsage
        if (!parse_key_usage(der, cert, err)) return false;
        break;
      case 19:  // basicConstraints
        if (!parse_basic_constraints(der, cert, err)) return false;
        break;
      case 17:  // subjectAltName
        if (!parse_san(value, cert, &unhandled, err)) return false;
        cert->has_san = true;
        cert->san_value = value;
        break;
      case 30:  // nameConstraints
        if (!parse_name_constraints(value, cert, &unhandled, err)) return false;
        cert->has_name_constraints = true;
        break;
      case 31:  // cRLDistributionPoints
        if (!parse_crl_distribution_points(value, err)) return false;
        break;
      case 35:  // authorityKeyIdentifier
        if (!parse_authority_key_id(der, cert, err)) return false;
        break;
      case 37:  // extKeyUsage
        if (!parse_ext_key_usage(der, cert, err)) return false;
        break;
      case 14:  // subjectKeyIdentifier
        if (!parse_subject_key_id(der, cert, err)) return false;
        break;
      case 32:  // certificatePolicies
        if (!parse_certificate_policies(der, err)) return false;
        break;
      default: unhandled = true; break;
    }
  } else if (id == kOidAuthorityInfoAccess) {
    if (!parse_authority_info_access(value, err)) return false;
  } else {
    unhandled = true;
  }
  if (critical && unhandled) cert->unhandled_critical_extension = true;
  return true;
}

}  // namespace meshprobe::detail::go
