// The algorithms of a certificate as crypto/x509's parser reads them: the
// AlgorithmIdentifier (parseAI), the signature algorithm
// (getSignatureAlgorithmFromAI) and the public key (parsePublicKey).
#include <openssl/x509.h>

#include <string>

#include "probes/detail/go_internal.h"

namespace meshprobe::detail::go {
namespace {

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

// parsePublicKey for RSA: a SEQUENCE of a positive modulus and exponent.
bool parse_rsa_key(GoCert* cert, const AlgorithmIdentifier& ai, std::string_view key,
                   std::string* err) {
  Der der(key);
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

// parsePublicKey for ECDSA: a named curve Go supports and an uncompressed point.
bool parse_ecdsa_key(GoCert* cert, const AlgorithmIdentifier& ai, std::string_view key,
                     std::string* err) {
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

// parsePublicKey for Ed25519: 32 bytes and no parameters.
bool parse_ed25519_key(GoCert* cert, const AlgorithmIdentifier& ai, std::string_view key,
                       std::string* err) {
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
}

// parsePublicKey for DSA: a positive y and positive p, q, g parameters.
bool parse_dsa_key(GoCert* cert, const AlgorithmIdentifier& ai, std::string_view key,
                   std::string* err) {
  Der der(key);
  std::string_view y;
  if (!der.read_big_integer(&y)) {
    *err = "x509: invalid DSA public key";
    return false;
  }
  Der outer(ai.params);
  Der seq;
  std::string_view p, q, g;
  if (!outer.read(tag::kSequence, &seq) || !seq.read_big_integer(&p) || !seq.read_big_integer(&q) ||
      !seq.read_big_integer(&g)) {
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

// parsePublicKey for the rest: current Go reads X25519 keys (crypto/ecdh)
// though it cannot verify with them; other algorithms leave the key nil.
bool parse_other_key(GoCert* cert, const AlgorithmIdentifier& ai, std::string_view key,
                     std::string* err) {
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

}  // namespace

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

GoPublicKeyAlgorithm public_key_algorithm(std::string_view oid) {
  if (oid == kOidPublicKeyRsa) return GoPublicKeyAlgorithm::rsa;
  if (oid == kOidPublicKeyDsa) return GoPublicKeyAlgorithm::dsa;
  if (oid == kOidPublicKeyEcdsa) return GoPublicKeyAlgorithm::ecdsa;
  if (oid == kOidPublicKeyEd25519) return GoPublicKeyAlgorithm::ed25519;
  return GoPublicKeyAlgorithm::unknown;
}

// parsePublicKey.
bool parse_public_key(GoCert* cert, const AlgorithmIdentifier& ai, std::string_view key_bits,
                      std::size_t bit_length, std::string* err) {
  const std::string key = right_align(key_bits, bit_length);
  switch (cert->public_key_algorithm) {
    case GoPublicKeyAlgorithm::rsa: return parse_rsa_key(cert, ai, key, err);
    case GoPublicKeyAlgorithm::ecdsa: return parse_ecdsa_key(cert, ai, key, err);
    case GoPublicKeyAlgorithm::ed25519: return parse_ed25519_key(cert, ai, key, err);
    case GoPublicKeyAlgorithm::dsa: return parse_dsa_key(cert, ai, key, err);
    case GoPublicKeyAlgorithm::unknown: return parse_other_key(cert, ai, key, err);
  }
  return true;
}

}  // namespace meshprobe::detail::go
