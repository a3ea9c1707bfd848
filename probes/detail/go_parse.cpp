// Go's x509.ParseCertificate (crypto/x509/parser.go): the certificate as Go
// reads it, with Go's error for what it refuses. A certificate Go cannot
// parse fails the TLS handshake ("tls: failed to parse certificate from
// server: ...") and is left out of a CA bundle (AppendCertsFromPEM skips it).
#include <openssl/evp.h>
#include <openssl/x509.h>

#include <array>
#include <cstring>

#include "probes/detail/go_internal.h"

namespace meshprobe::detail {
namespace go {

// ---- the DER reader ---------------------------------------------------------

bool Der::read_tlv(std::uint8_t* tag, std::string_view* element, std::string_view* contents) {
  if (s_.size() < 2) return false;
  const auto t = static_cast<std::uint8_t>(s_[0]);
  if ((t & 0x1f) == 0x1f) return false;  // high tag numbers: not read by cryptobyte
  const auto len_byte = static_cast<std::uint8_t>(s_[1]);
  std::size_t header = 2;
  std::size_t length = 0;
  if ((len_byte & 0x80) == 0) {
    length = len_byte;
  } else {
    const std::size_t len_len = len_byte & 0x7f;
    if (len_len == 0 || len_len > 4 || s_.size() < 2 + len_len) return false;
    std::uint32_t len32 = 0;
    for (std::size_t i = 0; i < len_len; ++i) {
      len32 = (len32 << 8) | static_cast<std::uint8_t>(s_[2 + i]);
    }
    if (len32 < 128) return false;                          // short form was due
    if ((len32 >> ((len_len - 1) * 8)) == 0) return false;  // a leading zero byte
    header = 2 + len_len;
    length = len32;
  }
  if (s_.size() - header < length) return false;
  *tag = t;
  if (element != nullptr) *element = s_.substr(0, header + length);
  if (contents != nullptr) *contents = s_.substr(header, length);
  s_.remove_prefix(header + length);
  return true;
}

bool Der::read(std::uint8_t tag, Der* out) {
  Der saved = *this;
  std::uint8_t t = 0;
  std::string_view contents;
  if (!read_tlv(&t, nullptr, &contents) || t != tag) {
    *this = saved;
    return false;
  }
  if (out != nullptr) *out = Der(contents);
  return true;
}

bool Der::read_element(std::uint8_t tag, std::string_view* out) {
  Der saved = *this;
  std::uint8_t t = 0;
  if (!read_tlv(&t, out, nullptr) || t != tag) {
    *this = saved;
    return false;
  }
  return true;
}

bool Der::read_any(std::uint8_t* tag, Der* contents) {
  std::string_view c;
  if (!read_tlv(tag, nullptr, &c)) return false;
  if (contents != nullptr) *contents = Der(c);
  return true;
}

bool Der::read_any_element(std::uint8_t* tag, std::string_view* element) {
  return read_tlv(tag, element, nullptr);
}

bool Der::peek(std::uint8_t tag) const {
  return !s_.empty() && static_cast<std::uint8_t>(s_[0]) == tag;
}

bool Der::skip_optional(std::uint8_t tag) {
  if (!peek(tag)) return true;
  return read(tag, nullptr);
}

bool Der::read_optional(std::uint8_t tag, Der* out, bool* present) {
  *present = peek(tag);
  if (!*present) return true;
  return read(tag, out);
}

namespace {

bool minimal_integer(std::string_view b) {
  if (b.empty()) return false;
  if (b.size() == 1) return true;
  const auto b0 = static_cast<std::uint8_t>(b[0]);
  const auto b1 = static_cast<std::uint8_t>(b[1]);
  return !((b0 == 0 && (b1 & 0x80) == 0) || (b0 == 0xff && (b1 & 0x80) == 0x80));
}

}  // namespace

bool Der::read_big_integer(std::string_view* out) {
  Der saved = *this;
  Der c;
  if (!read(tag::kInteger, &c) || !minimal_integer(c.bytes())) {
    *this = saved;
    return false;
  }
  *out = c.bytes();
  return true;
}

bool Der::read_int64(std::int64_t* out) {
  Der saved = *this;
  std::string_view b;
  if (!read_big_integer(&b) || b.size() > 8) {
    *this = saved;
    return false;
  }
  std::uint64_t v = (static_cast<std::uint8_t>(b[0]) & 0x80) ? ~std::uint64_t{0} : 0;
  for (char c : b) v = (v << 8) | static_cast<std::uint8_t>(c);
  *out = static_cast<std::int64_t>(v);
  return true;
}

bool Der::read_boolean(bool* out) {
  Der saved = *this;
  Der c;
  if (!read(tag::kBoolean, &c) || c.bytes().size() != 1) {
    *this = saved;
    return false;
  }
  const auto v = static_cast<std::uint8_t>(c.bytes()[0]);
  if (v != 0 && v != 0xff) {
    *this = saved;
    return false;
  }
  *out = v == 0xff;
  return true;
}

bool valid_oid(std::string_view bytes) {
  if (bytes.empty()) return false;
  std::size_t i = 0;
  while (i < bytes.size()) {
    std::uint32_t value = 0;
    for (int n = 0;; ++n) {
      if (i == bytes.size() || n == 5) return false;
      if (value >= (1u << (31 - 7))) return false;
      const auto b = static_cast<std::uint8_t>(bytes[i++]);
      if (n == 0 && b == 0x80) return false;
      value = (value << 7) | (b & 0x7f);
      if ((b & 0x80) == 0) break;
    }
  }
  return true;
}

bool Der::read_oid(std::string_view* out) {
  Der saved = *this;
  Der c;
  if (!read(tag::kOid, &c) || !valid_oid(c.bytes())) {
    *this = saved;
    return false;
  }
  *out = c.bytes();
  return true;
}

bool Der::read_bit_string(std::string_view* bytes, std::size_t* bit_length) {
  Der saved = *this;
  Der c;
  if (!read(tag::kBitString, &c) || c.bytes().empty()) {
    *this = saved;
    return false;
  }
  std::string_view b = c.bytes();
  const auto padding = static_cast<std::uint8_t>(b[0]);
  b.remove_prefix(1);
  if (padding > 7 || (b.empty() && padding != 0) ||
      (!b.empty() && (static_cast<std::uint8_t>(b.back()) & ((1u << padding) - 1)) != 0)) {
    *this = saved;
    return false;
  }
  *bytes = b;
  *bit_length = b.size() * 8 - padding;
  return true;
}

bool is_ia5(std::string_view s) {
  for (char c : s) {
    if (static_cast<std::uint8_t>(c) >= 0x80) return false;
  }
  return true;
}

}  // namespace go

namespace {

using go::Der;
namespace tag = go::tag;

// OIDs, as DER content bytes.
constexpr std::string_view kOidCommonName{"\x55\x04\x03", 3};
constexpr std::string_view kOidOrganization{"\x55\x04\x0a", 3};
constexpr std::string_view kOidExtensionPrefix{"\x55\x1d", 2};  // 2.5.29
constexpr std::string_view kOidAuthorityInfoAccess{"\x2b\x06\x01\x05\x05\x07\x01\x01", 8};
constexpr std::string_view kOidPublicKeyRsa{"\x2a\x86\x48\x86\xf7\x0d\x01\x01\x01", 9};
constexpr std::string_view kOidPublicKeyDsa{"\x2a\x86\x48\xce\x38\x04\x01", 7};
constexpr std::string_view kOidPublicKeyEcdsa{"\x2a\x86\x48\xce\x3d\x02\x01", 7};
constexpr std::string_view kOidPublicKeyEd25519{"\x2b\x65\x70", 3};
constexpr std::string_view kOidPublicKeyX25519{"\x2b\x65\x6e", 3};
constexpr std::string_view kOidCurveP224{"\x2b\x81\x04\x00\x21", 5};
constexpr std::string_view kOidCurveP256{"\x2a\x86\x48\xce\x3d\x03\x01\x07", 8};
constexpr std::string_view kOidCurveP384{"\x2b\x81\x04\x00\x22", 5};
constexpr std::string_view kOidCurveP521{"\x2b\x81\x04\x00\x23", 5};
constexpr std::string_view kOidSignatureRsaPss{"\x2a\x86\x48\x86\xf7\x0d\x01\x01\x0a", 9};
constexpr std::string_view kOidMgf1{"\x2a\x86\x48\x86\xf7\x0d\x01\x01\x08", 9};
constexpr std::string_view kOidSha256{"\x60\x86\x48\x01\x65\x03\x04\x02\x01", 9};
constexpr std::string_view kOidSha384{"\x60\x86\x48\x01\x65\x03\x04\x02\x02", 9};
constexpr std::string_view kOidSha512{"\x60\x86\x48\x01\x65\x03\x04\x02\x03", 9};
constexpr std::string_view kNullBytes{"\x05\x00", 2};

struct SignatureOid {
  std::string_view oid;
  GoSignatureAlgorithm algorithm;
};

// Go's signatureAlgorithmDetails, by OID (RSA-PSS apart: its parameters decide).
constexpr SignatureOid kSignatureOids[] = {
    {{"\x2a\x86\x48\x86\xf7\x0d\x01\x01\x02", 9}, GoSignatureAlgorithm::md2_rsa},
    {{"\x2a\x86\x48\x86\xf7\x0d\x01\x01\x04", 9}, GoSignatureAlgorithm::md5_rsa},
    {{"\x2a\x86\x48\x86\xf7\x0d\x01\x01\x05", 9}, GoSignatureAlgorithm::sha1_rsa},
    {{"\x2b\x0e\x03\x02\x1d", 5}, GoSignatureAlgorithm::sha1_rsa},  // ISO's OID
    {{"\x2a\x86\x48\x86\xf7\x0d\x01\x01\x0b", 9}, GoSignatureAlgorithm::sha256_rsa},
    {{"\x2a\x86\x48\x86\xf7\x0d\x01\x01\x0c", 9}, GoSignatureAlgorithm::sha384_rsa},
    {{"\x2a\x86\x48\x86\xf7\x0d\x01\x01\x0d", 9}, GoSignatureAlgorithm::sha512_rsa},
    {{"\x2a\x86\x48\xce\x38\x04\x03", 7}, GoSignatureAlgorithm::dsa_sha1},
    {{"\x60\x86\x48\x01\x65\x03\x04\x03\x02", 9}, GoSignatureAlgorithm::dsa_sha256},
    {{"\x2a\x86\x48\xce\x3d\x04\x01", 7}, GoSignatureAlgorithm::ecdsa_sha1},
    {{"\x2a\x86\x48\xce\x3d\x04\x03\x02", 8}, GoSignatureAlgorithm::ecdsa_sha256},
    {{"\x2a\x86\x48\xce\x3d\x04\x03\x03", 8}, GoSignatureAlgorithm::ecdsa_sha384},
    {{"\x2a\x86\x48\xce\x3d\x04\x03\x04", 8}, GoSignatureAlgorithm::ecdsa_sha512},
    {{"\x2b\x65\x70", 3}, GoSignatureAlgorithm::ed25519},
};

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

// An AlgorithmIdentifier as parseAI reads it.
struct AlgorithmIdentifier {
  std::string_view oid;
  std::string_view params;  // the whole parameters element, "" when absent
};

bool parse_ai(Der der, AlgorithmIdentifier* ai, std::string* err) {
  if (!der.read_oid(&ai->oid)) {
    *err = "x509: malformed OID";
    return false;
  }
  if (der.empty()) return true;
  std::uint8_t t = 0;
  if (!der.read_any_element(&t, &ai->params)) {
    *err = "x509: malformed parameters";
    return false;
  }
  return true;
}

// encoding/asn1's view of an AlgorithmIdentifier inside RSA-PSS parameters:
// an OID and optional parameters, nothing after them.
bool unmarshal_ai(std::string_view element, AlgorithmIdentifier* ai) {
  Der outer(element);
  Der seq;
  if (!outer.read(tag::kSequence, &seq) || !outer.empty()) return false;
  if (!seq.read_oid(&ai->oid)) return false;
  if (seq.empty()) return true;
  std::uint8_t t = 0;
  if (!seq.read_any_element(&t, &ai->params)) return false;
  return seq.empty();
}

// getSignatureAlgorithmFromAI.
GoSignatureAlgorithm signature_algorithm(const AlgorithmIdentifier& ai) {
  if (ai.oid == kOidSignatureRsaPss) {
    // SEQUENCE { [0] hash, [1] mgf, [2] saltLength, [3] trailerField DEFAULT 1 };
    // the first three are required (their defaults are SHA-1).
    Der outer(ai.params);
    Der params;
    if (!outer.read(tag::kSequence, &params) || !outer.empty()) {
      return GoSignatureAlgorithm::unknown;
    }
    Der hash_tagged, mgf_tagged, salt_tagged;
    if (!params.read(tag::explicit_tag(0), &hash_tagged) ||
        !params.read(tag::explicit_tag(1), &mgf_tagged) ||
        !params.read(tag::explicit_tag(2), &salt_tagged)) {
      return GoSignatureAlgorithm::unknown;
    }
    std::int64_t trailer = 1;
    if (params.peek(tag::explicit_tag(3))) {
      Der trailer_tagged;
      if (!params.read(tag::explicit_tag(3), &trailer_tagged) ||
          !trailer_tagged.read_int64(&trailer) || !trailer_tagged.empty()) {
        return GoSignatureAlgorithm::unknown;
      }
    }
    if (!params.empty()) return GoSignatureAlgorithm::unknown;
    AlgorithmIdentifier hash, mgf, mgf_hash;
    std::int64_t salt = 0;
    if (!unmarshal_ai(hash_tagged.bytes(), &hash) || !unmarshal_ai(mgf_tagged.bytes(), &mgf) ||
        !salt_tagged.read_int64(&salt) || !salt_tagged.empty() ||
        !unmarshal_ai(mgf.params, &mgf_hash)) {
      return GoSignatureAlgorithm::unknown;
    }
    auto null_or_empty = [](std::string_view p) { return p.empty() || p == kNullBytes; };
    if (!null_or_empty(hash.params) || mgf.oid != kOidMgf1 || mgf_hash.oid != hash.oid ||
        !null_or_empty(mgf_hash.params) || trailer != 1) {
      return GoSignatureAlgorithm::unknown;
    }
    if (hash.oid == kOidSha256 && salt == 32) return GoSignatureAlgorithm::sha256_rsapss;
    if (hash.oid == kOidSha384 && salt == 48) return GoSignatureAlgorithm::sha384_rsapss;
    if (hash.oid == kOidSha512 && salt == 64) return GoSignatureAlgorithm::sha512_rsapss;
    return GoSignatureAlgorithm::unknown;
  }
  if (ai.oid == kOidPublicKeyEd25519 && !ai.params.empty()) return GoSignatureAlgorithm::unknown;
  for (const auto& s : kSignatureOids) {
    if (s.oid == ai.oid) return s.algorithm;
  }
  return GoSignatureAlgorithm::unknown;
}

bool printable_byte(std::uint8_t b) {
  return ('a' <= b && b <= 'z') || ('A' <= b && b <= 'Z') || ('0' <= b && b <= '9') ||
         ('\'' <= b && b <= ')') || ('+' <= b && b <= '/') || b == ' ' || b == ':' || b == '=' ||
         b == '?' || b == '*' || b == '&';
}

bool valid_utf8(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<std::uint8_t>(s[i]);
    std::size_t n = 0;
    std::uint32_t cp = 0;
    if (c < 0x80) {
      ++i;
      continue;
    }
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
      return false;
    }
    if (s.size() - i <= n) return false;
    for (std::size_t k = 1; k <= n; ++k) {
      const auto cc = static_cast<std::uint8_t>(s[i + k]);
      if ((cc & 0xc0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3f);
    }
    if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
        cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
      return false;
    }
    i += n + 1;
  }
  return true;
}

void append_utf8(std::string& out, std::uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xc0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xe0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  } else {
    out += static_cast<char>(0xf0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3f));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  }
}

// parseASN1String: the value as Go's string, or Go's error.
bool asn1_string(std::uint8_t t, std::string_view value, std::string* out, std::string* err) {
  switch (t) {
    case tag::kT61String: *out = std::string(value); return true;
    case tag::kPrintableString:
      for (char c : value) {
        if (!printable_byte(static_cast<std::uint8_t>(c))) {
          *err = "invalid PrintableString";
          return false;
        }
      }
      *out = std::string(value);
      return true;
    case tag::kUtf8String:
      if (!valid_utf8(value)) {
        *err = "invalid UTF-8 string";
        return false;
      }
      *out = std::string(value);
      return true;
    case tag::kBmpString: {
      if (value.size() % 2 != 0) {
        *err = "invalid BMPString";
        return false;
      }
      if (value.size() >= 2 && value[value.size() - 1] == 0 && value[value.size() - 2] == 0) {
        value.remove_suffix(2);
      }
      out->clear();
      for (std::size_t i = 0; i + 1 < value.size(); i += 2) {
        std::uint32_t u =
            (static_cast<std::uint8_t>(value[i]) << 8) | static_cast<std::uint8_t>(value[i + 1]);
        if (u >= 0xd800 && u < 0xdc00 && i + 3 < value.size()) {
          const std::uint32_t lo = (static_cast<std::uint8_t>(value[i + 2]) << 8) |
                                   static_cast<std::uint8_t>(value[i + 3]);
          if (lo >= 0xdc00 && lo < 0xe000) {
            u = 0x10000 + ((u - 0xd800) << 10) + (lo - 0xdc00);
            i += 2;
          } else {
            u = 0xfffd;
          }
        } else if (u >= 0xd800 && u < 0xe000) {
          u = 0xfffd;
        }
        append_utf8(*out, u);
      }
      return true;
    }
    case tag::kIa5String:
      if (!go::is_ia5(value)) {
        *err = "invalid IA5String";
        return false;
      }
      *out = std::string(value);
      return true;
    case tag::kNumericString:
      for (char c : value) {
        if (!(('0' <= c && c <= '9') || c == ' ')) {
          *err = "invalid NumericString";
          return false;
        }
      }
      *out = std::string(value);
      return true;
    default: *err = "unsupported string type: " + std::to_string(t); return false;
  }
}

// parseName over a Name element; keeps the CN and first O when `cert`.
bool parse_name(std::string_view element, GoCert* cert, std::string* err) {
  Der raw(element);
  Der seq;
  if (!raw.read(tag::kSequence, &seq)) {
    *err = "x509: invalid RDNSequence";
    return false;
  }
  bool have_org = false;
  while (!seq.empty()) {
    Der set;
    if (!seq.read(tag::kSet, &set)) {
      *err = "x509: invalid RDNSequence";
      return false;
    }
    while (!set.empty()) {
      Der atav;
      if (!set.read(tag::kSequence, &atav)) {
        *err = "x509: invalid RDNSequence: invalid attribute";
        return false;
      }
      std::string_view type;
      if (!atav.read_oid(&type)) {
        *err = "x509: invalid RDNSequence: invalid attribute type";
        return false;
      }
      std::uint8_t value_tag = 0;
      Der value;
      if (!atav.read_any(&value_tag, &value)) {
        *err = "x509: invalid RDNSequence: invalid attribute value";
        return false;
      }
      std::string text;
      std::string why;
      if (!asn1_string(value_tag, value.bytes(), &text, &why)) {
        *err = "x509: invalid RDNSequence: invalid attribute value: " + why;
        return false;
      }
      if (cert != nullptr) {
        if (type == kOidCommonName) {
          cert->common_name = std::move(text);
        } else if (type == kOidOrganization && !have_org) {
          cert->first_organization = std::move(text);
          have_org = true;
        }
      }
    }
  }
  return true;
}

std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

bool leap(std::int64_t y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

bool digits(std::string_view s, std::size_t at, std::size_t n, int* out) {
  if (at + n > s.size()) return false;
  int v = 0;
  for (std::size_t i = at; i < at + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    v = v * 10 + (s[i] - '0');
  }
  *out = v;
  return true;
}

// time.Parse with a layout ending in "Z0700", and the round trip cryptobyte
// requires: "Z", or a non-zero "+hhmm"/"-hhmm" offset.
bool parse_zone(std::string_view s, std::int32_t* offset_minutes) {
  if (s == "Z") {
    *offset_minutes = 0;
    return true;
  }
  if (s.size() != 5 || (s[0] != '+' && s[0] != '-')) return false;
  int hh = 0;
  int mm = 0;
  if (!digits(s, 1, 2, &hh) || !digits(s, 3, 2, &mm) || hh > 24 || mm > 60) return false;
  const int total = hh * 60 + mm;
  if (total == 0) return false;  // written back as "Z"
  *offset_minutes = s[0] == '-' ? -total : total;
  return true;
}

bool civil_time(std::int64_t year, int month, int day, int hour, int minute, int second,
                std::int32_t offset, GoTime* out) {
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (month < 1 || month > 12 || hour > 23 || minute > 59 || second > 59) return false;
  const int max_day = kDays[month - 1] + (month == 2 && leap(year) ? 1 : 0);
  if (day < 1 || day > max_day) return false;
  out->seconds =
      days_from_civil(year, static_cast<unsigned>(month), static_cast<unsigned>(day)) * 86400 +
      hour * 3600 + minute * 60 + second - std::int64_t{offset} * 60;
  out->nanos = 0;
  out->offset_minutes = offset;
  return true;
}

// cryptobyte's ReadASN1UTCTime: "YYMMDDhhmmss" (or without the seconds),
// then the zone; years 50-99 are 1950-1999.
bool parse_utc_time(std::string_view s, GoTime* out) {
  int yy = 0, mo = 0, dd = 0, hh = 0, mi = 0, ss = 0;
  if (!digits(s, 0, 2, &yy) || !digits(s, 2, 2, &mo) || !digits(s, 4, 2, &dd) ||
      !digits(s, 6, 2, &hh) || !digits(s, 8, 2, &mi)) {
    return false;
  }
  std::size_t zone_at = 10;
  if (digits(s, 10, 2, &ss)) zone_at = 12;
  std::int32_t offset = 0;
  if (!parse_zone(s.substr(zone_at), &offset)) return false;
  std::int64_t year = yy >= 69 ? 1900 + yy : 2000 + yy;
  const bool valid = civil_time(year, mo, dd, hh, mi, ss, offset, out);
  if (!valid) return false;
  if (year >= 2050) {
    year -= 100;
    civil_time(year, mo, dd, hh, mi, ss, offset, out);
  }
  return true;
}

// cryptobyte's ReadASN1GeneralizedTime: "YYYYMMDDhhmmss" and the zone, no
// fraction (it would not survive the round trip).
bool parse_generalized_time(std::string_view s, GoTime* out) {
  int yyyy = 0, mo = 0, dd = 0, hh = 0, mi = 0, ss = 0;
  if (!digits(s, 0, 4, &yyyy) || !digits(s, 4, 2, &mo) || !digits(s, 6, 2, &dd) ||
      !digits(s, 8, 2, &hh) || !digits(s, 10, 2, &mi) || !digits(s, 12, 2, &ss)) {
    return false;
  }
  std::int32_t offset = 0;
  if (!parse_zone(s.substr(14), &offset)) return false;
  return civil_time(yyyy, mo, dd, hh, mi, ss, offset, out);
}

bool parse_time(Der* der, GoTime* out, std::string* err) {
  Der value;
  if (der->peek(tag::kUtcTime)) {
    if (!der->read(tag::kUtcTime, &value) || !parse_utc_time(value.bytes(), out)) {
      *err = "x509: malformed UTCTime";
      return false;
    }
    return true;
  }
  if (der->peek(tag::kGeneralizedTime)) {
    if (!der->read(tag::kGeneralizedTime, &value) || !parse_generalized_time(value.bytes(), out)) {
      *err = "x509: malformed GeneralizedTime";
      return false;
    }
    return true;
  }
  *err = "x509: unsupported time format";
  return false;
}

// BitString.RightAlign.
std::string right_align(std::string_view bytes, std::size_t bit_length) {
  const std::size_t shift = bytes.size() * 8 - bit_length;
  if (shift == 0 || bytes.empty()) return std::string(bytes);
  std::string out(bytes.size(), '\0');
  out[0] = static_cast<char>(static_cast<std::uint8_t>(bytes[0]) >> shift);
  for (std::size_t i = 1; i < bytes.size(); ++i) {
    out[i] = static_cast<char>((static_cast<std::uint8_t>(bytes[i - 1]) << (8 - shift)) |
                               (static_cast<std::uint8_t>(bytes[i]) >> shift));
  }
  return out;
}

std::size_t bit_len(std::string_view unsigned_bytes) {
  std::size_t i = 0;
  while (i < unsigned_bytes.size() && unsigned_bytes[i] == 0) ++i;
  if (i == unsigned_bytes.size()) return 0;
  std::size_t bits = (unsigned_bytes.size() - i) * 8;
  for (auto b = static_cast<unsigned>(static_cast<std::uint8_t>(unsigned_bytes[i]));
       (b & 0x80) == 0; b <<= 1) {
    --bits;
  }
  return bits;
}

bool positive(std::string_view integer) {
  if (static_cast<std::uint8_t>(integer[0]) & 0x80) return false;
  for (char c : integer) {
    if (c != 0) return true;
  }
  return false;
}

std::size_t curve_bytes(std::string_view curve) {
  if (curve == kOidCurveP224) return 28;
  if (curve == kOidCurveP256) return 32;
  if (curve == kOidCurveP384) return 48;
  if (curve == kOidCurveP521) return 66;
  return 0;
}

// parsePublicKey.
bool parse_public_key(GoCert* cert, const AlgorithmIdentifier& ai, std::string_view key_bits,
                      std::size_t bit_length, std::string* err) {
  const std::string key = right_align(key_bits, bit_length);
  Der der(key);
  switch (cert->public_key_algorithm) {
    case GoPublicKeyAlgorithm::rsa: {
      if (ai.params != kNullBytes) {
        *err = "x509: RSA key missing NULL parameters";
        return false;
      }
      Der seq;
      if (!der.read(tag::kSequence, &seq)) {
        *err = "x509: invalid RSA public key";
        return false;
      }
      std::string_view n;
      std::int64_t e = 0;
      if (!seq.read_big_integer(&n)) {
        *err = "x509: invalid RSA modulus";
        return false;
      }
      if (!seq.read_int64(&e)) {
        *err = "x509: invalid RSA public exponent";
        return false;
      }
      if (!positive(n)) {
        *err = "x509: RSA modulus is not a positive number";
        return false;
      }
      if (e <= 0) {
        *err = "x509: RSA public exponent is not a positive number";
        return false;
      }
      cert->rsa_bits = static_cast<int>(bit_len(n));
      cert->key_type = GoKeyType::rsa;
      return true;
    }
    case GoPublicKeyAlgorithm::ecdsa: {
      Der params(ai.params);
      std::string_view curve;
      if (!params.read_oid(&curve)) {
        *err = "x509: invalid ECDSA parameters";
        return false;
      }
      const std::size_t size = curve_bytes(curve);
      if (size == 0) {
        *err = "x509: unsupported elliptic curve";
        return false;
      }
      // elliptic.Unmarshal: the uncompressed form only, on the curve (which
      // OpenSSL's decoding of the same key checked).
      if (key.size() != 1 + 2 * size || key[0] != 0x04 ||
          (cert->x509 != nullptr && X509_get0_pubkey(cert->x509) == nullptr)) {
        *err = "x509: failed to unmarshal elliptic curve point";
        return false;
      }
      cert->key_type = GoKeyType::ecdsa;
      return true;
    }
    case GoPublicKeyAlgorithm::ed25519:
      if (!ai.params.empty()) {
        *err = "x509: Ed25519 key encoded with illegal parameters";
        return false;
      }
      if (key.size() != 32) {
        *err = "x509: wrong Ed25519 public key size";
        return false;
      }
      cert->key_type = GoKeyType::ed25519;
      return true;
    case GoPublicKeyAlgorithm::dsa: {
      std::string_view y;
      if (!der.read_big_integer(&y)) {
        *err = "x509: invalid DSA public key";
        return false;
      }
      Der outer(ai.params);
      Der seq;
      std::string_view p, q, g;
      if (!outer.read(tag::kSequence, &seq) || !seq.read_big_integer(&p) ||
          !seq.read_big_integer(&q) || !seq.read_big_integer(&g)) {
        *err = "x509: invalid DSA parameters";
        return false;
      }
      if (!positive(y) || !positive(p) || !positive(q) || !positive(g)) {
        *err = "x509: zero or negative DSA parameter";
        return false;
      }
      cert->key_type = GoKeyType::dsa;
      return true;
    }
    case GoPublicKeyAlgorithm::unknown:
      // Current Go reads X25519 keys (crypto/ecdh) though it cannot verify
      // with them; other algorithms leave the key nil.
      if (ai.oid == kOidPublicKeyX25519) {
        if (!ai.params.empty()) {
          *err = "x509: X25519 key encoded with illegal parameters";
          return false;
        }
        if (key.size() != 32) {
          *err = "x509: failed to parse X25519 public key";
          return false;
        }
        cert->key_type = GoKeyType::ecdh;
      }
      return true;
  }
  return true;
}

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

// processExtensions: one extension.
bool process_extension(GoCert* cert, std::string_view id, bool critical, std::string_view value,
                       std::string* err) {
  bool unhandled = false;
  if (id.size() == 3 && id.substr(0, 2) == kOidExtensionPrefix) {
    Der der(value);
    switch (static_cast<std::uint8_t>(id[2])) {
      case 15: {  // keyUsage
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
        break;
      }
      case 19: {  // basicConstraints
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
        break;
      }
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
      case 35: {  // authorityKeyIdentifier
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
        break;
      }
      case 37: {  // extKeyUsage
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
        break;
      }
      case 14: {  // subjectKeyIdentifier
        Der skid;
        if (!der.read(tag::kOctetString, &skid)) {
          *err = "x509: invalid subject key identifier";
          return false;
        }
        cert->subject_key_id = skid.bytes();
        break;
      }
      case 32: {  // certificatePolicies
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
        break;
      }
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

// parseCertificate over cert->der; false with Go's error in cert->parse_error.
bool parse_certificate(GoCert* cert) {
  std::string* err = &cert->parse_error;
  Der input(cert->der);
  std::string_view raw;
  if (!input.read_element(tag::kSequence, &raw)) {
    *err = "x509: malformed certificate";
    return false;
  }
  input = Der(raw);
  Der body;
  if (!input.read(tag::kSequence, &body)) {
    *err = "x509: malformed certificate";
    return false;
  }
  input = body;
  std::string_view tbs_element;
  if (!input.read_element(tag::kSequence, &tbs_element)) {
    *err = "x509: malformed tbs certificate";
    return false;
  }
  cert->raw_tbs = tbs_element;
  Der tbs;
  {
    Der t(tbs_element);
    if (!t.read(tag::kSequence, &tbs)) {
      *err = "x509: malformed tbs certificate";
      return false;
    }
  }

  std::int64_t version = 0;
  if (tbs.peek(tag::explicit_tag(0))) {
    Der v;
    if (!tbs.read(tag::explicit_tag(0), &v) || !v.read_int64(&version) || !v.empty()) {
      *err = "x509: malformed version";
      return false;
    }
  }
  if (version < 0) {
    *err = "x509: malformed version";
    return false;
  }
  ++version;
  if (version > 3) {
    *err = "x509: invalid version";
    return false;
  }
  cert->version = static_cast<int>(version);

  std::string_view serial;
  if (!tbs.read_big_integer(&serial)) {
    *err = "x509: malformed serial number";
    return false;
  }
  // Go 1.23 and later refuse negative serial numbers (GODEBUG
  // x509negativeserial=1 restores the old leniency).
  if (static_cast<std::uint8_t>(serial[0]) & 0x80) {
    *err = "x509: negative serial number";
    return false;
  }

  Der sig_ai_seq;
  if (!tbs.read(tag::kSequence, &sig_ai_seq)) {
    *err = "x509: malformed signature algorithm identifier";
    return false;
  }
  Der outer_sig_ai_seq;
  if (!input.read(tag::kSequence, &outer_sig_ai_seq)) {
    *err = "x509: malformed algorithm identifier";
    return false;
  }
  if (outer_sig_ai_seq.bytes() != sig_ai_seq.bytes()) {
    *err = "x509: inner and outer signature algorithm identifiers don't match";
    return false;
  }
  AlgorithmIdentifier sig_ai;
  if (!parse_ai(sig_ai_seq, &sig_ai, err)) return false;
  cert->signature_algorithm = signature_algorithm(sig_ai);

  std::string_view issuer;
  if (!tbs.read_element(tag::kSequence, &issuer)) {
    *err = "x509: malformed issuer";
    return false;
  }
  cert->raw_issuer = issuer;
  if (!parse_name(issuer, nullptr, err)) return false;

  Der validity;
  if (!tbs.read(tag::kSequence, &validity)) {
    *err = "x509: malformed validity";
    return false;
  }
  if (!parse_time(&validity, &cert->not_before, err) ||
      !parse_time(&validity, &cert->not_after, err)) {
    return false;
  }

  std::string_view subject;
  if (!tbs.read_element(tag::kSequence, &subject)) {
    *err = "x509: malformed issuer";  // sic: Go's text for the subject too
    return false;
  }
  cert->raw_subject = subject;
  if (!parse_name(subject, cert, err)) return false;

  std::string_view spki_element;
  if (!tbs.read_element(tag::kSequence, &spki_element)) {
    *err = "x509: malformed spki";
    return false;
  }
  cert->raw_spki = spki_element;
  Der spki;
  {
    Der s(spki_element);
    if (!s.read(tag::kSequence, &spki)) {
      *err = "x509: malformed spki";
      return false;
    }
  }
  Der pk_ai_seq;
  if (!spki.read(tag::kSequence, &pk_ai_seq)) {
    *err = "x509: malformed public key algorithm identifier";
    return false;
  }
  AlgorithmIdentifier pk_ai;
  if (!parse_ai(pk_ai_seq, &pk_ai, err)) return false;
  if (pk_ai.oid == kOidPublicKeyRsa) {
    cert->public_key_algorithm = GoPublicKeyAlgorithm::rsa;
  } else if (pk_ai.oid == kOidPublicKeyDsa) {
    cert->public_key_algorithm = GoPublicKeyAlgorithm::dsa;
  } else if (pk_ai.oid == kOidPublicKeyEcdsa) {
    cert->public_key_algorithm = GoPublicKeyAlgorithm::ecdsa;
  } else if (pk_ai.oid == kOidPublicKeyEd25519) {
    cert->public_key_algorithm = GoPublicKeyAlgorithm::ed25519;
  }
  std::string_view key_bits;
  std::size_t key_bit_length = 0;
  if (!spki.read_bit_string(&key_bits, &key_bit_length)) {
    *err = "x509: malformed subjectPublicKey";
    return false;
  }
  if (!parse_public_key(cert, pk_ai, key_bits, key_bit_length, err)) return false;

  if (cert->version > 1) {
    if (!tbs.skip_optional(tag::implicit_tag(1))) {
      *err = "x509: malformed issuerUniqueID";
      return false;
    }
    if (!tbs.skip_optional(tag::implicit_tag(2))) {
      *err = "x509: malformed subjectUniqueID";
      return false;
    }
    if (cert->version == 3) {
      Der extensions;
      bool present = false;
      if (!tbs.read_optional(tag::explicit_tag(3), &extensions, &present)) {
        *err = "x509: malformed extensions";
        return false;
      }
      if (present) {
        Der list;
        if (!extensions.read(tag::kSequence, &list)) {
          *err = "x509: malformed extensions";
          return false;
        }
        struct Ext {
          std::string_view id;
          bool critical;
          std::string_view value;
        };
        std::vector<Ext> exts;
        while (!list.empty()) {
          Der extension;
          if (!list.read(tag::kSequence, &extension)) {
            *err = "x509: malformed extension";
            return false;
          }
          Ext ext{{}, false, {}};
          if (!extension.read_oid(&ext.id)) {
            *err = "x509: malformed extension OID field";
            return false;
          }
          if (extension.peek(tag::kBoolean) && !extension.read_boolean(&ext.critical)) {
            *err = "x509: malformed extension critical field";
            return false;
          }
          Der value;
          if (!extension.read(tag::kOctetString, &value)) {
            *err = "x509: malformed extension value field";
            return false;
          }
          ext.value = value.bytes();
          for (const Ext& seen : exts) {
            if (seen.id == ext.id) {
              *err = "x509: certificate contains duplicate extensions";
              return false;
            }
          }
          exts.push_back(ext);
        }
        for (const Ext& ext : exts) {
          if (!process_extension(cert, ext.id, ext.critical, ext.value, err)) return false;
        }
      }
    }
  }

  std::string_view signature;
  std::size_t signature_bits = 0;
  if (!input.read_bit_string(&signature, &signature_bits)) {
    *err = "x509: malformed signature";
    return false;
  }
  // A signature with padding bits would be shifted by RightAlign; no
  // signature can verify then, which an empty one gives as well.
  cert->signature = signature_bits % 8 == 0 ? signature : std::string_view{};
  return true;
}

}  // namespace

GoCert::~GoCert() { X509_free(x509); }

namespace {

std::shared_ptr<const GoCert> parse_der(X509* x509, std::string der) {
  auto cert = std::make_shared<GoCert>();
  if (x509 != nullptr) {
    X509_up_ref(x509);
    cert->x509 = x509;
  }
  cert->der = std::move(der);
  if (!parse_certificate(cert.get()) && cert->parse_error.empty()) {
    cert->parse_error = "x509: malformed certificate";
  }
  return cert;
}

}  // namespace

std::shared_ptr<const GoCert> parse_go_certificate(X509* x509) {
  unsigned char* der = nullptr;
  const int len = x509 != nullptr ? i2d_X509(x509, &der) : -1;
  if (len <= 0) {
    auto cert = std::make_shared<GoCert>();
    cert->parse_error = "x509: malformed certificate";
    return cert;
  }
  std::string bytes(reinterpret_cast<const char*>(der), static_cast<std::size_t>(len));
  OPENSSL_free(der);
  return parse_der(x509, std::move(bytes));
}

std::shared_ptr<const GoCert> parse_go_certificate(std::string_view der) {
  const auto* p = reinterpret_cast<const unsigned char*>(der.data());
  X509* x509 = d2i_X509(nullptr, &p, static_cast<long>(der.size()));
  // Go's reading does not depend on OpenSSL's: bytes OpenSSL refuses are
  // still read (their keys then verify nothing).
  auto cert = parse_der(x509, std::string(der));
  X509_free(x509);
  return cert;
}

}  // namespace meshprobe::detail
