// Go's x509.ParseCertificate (crypto/x509/parser.go): the certificate as Go
// reads it, with Go's error for what it refuses. A certificate Go cannot
// parse fails the TLS handshake ("tls: failed to parse certificate from
// server: ...") and is left out of a CA bundle (AppendCertsFromPEM skips it).
// Its pieces: go_der.cpp (DER, strings, names, times), go_algorithms.cpp
// (algorithms and keys), go_extensions.cpp (extensions).
#include <openssl/crypto.h>
#include <openssl/x509.h>

#include <memory>
#include <string>
#include <vector>

#include "probes/detail/go_internal.h"

namespace meshprobe::detail {
namespace {

using go::AlgorithmIdentifier;
using go::Der;
namespace tag = go::tag;
using go::parse_ai;
using go::parse_name;
using go::parse_public_key;
using go::parse_time;
using go::process_extension;
using go::public_key_algorithm;
using go::signature_algorithm;

// The version (v1 when absent) and the serial number.
bool parse_version_and_serial(Der& tbs, GoCert* cert, std::string* err) {
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
  return true;
}

// The SubjectPublicKeyInfo: the algorithm and the key.
bool parse_spki(Der& tbs, GoCert* cert, std::string* err) {
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
  cert->public_key_algorithm = public_key_algorithm(pk_ai.oid);
  std::string_view key_bits;
  std::size_t key_bit_length = 0;
  if (!spki.read_bit_string(&key_bits, &key_bit_length)) {
    *err = "x509: malformed subjectPublicKey";
    return false;
  }
  if (!parse_public_key(cert, pk_ai, key_bits, key_bit_length, err)) return false;
  return true;
}

// The extensions of a v3 certificate, each processed once all are read (a
// duplicate is refused before any is processed, as Go does).
bool parse_extensions(Der& tbs, GoCert* cert, std::string* err) {
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
  return true;
}

// What follows the public key in a v2 or v3 certificate.
bool parse_unique_ids_and_extensions(Der& tbs, GoCert* cert, std::string* err) {
  if (!tbs.skip_optional(tag::implicit_tag(1))) {
    *err = "x509: malformed issuerUniqueID";
    return false;
  }
  if (!tbs.skip_optional(tag::implicit_tag(2))) {
    *err = "x509: malformed subjectUniqueID";
    return false;
  }
  if (cert->version == 3) return parse_extensions(tbs, cert, err);
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

  if (!parse_version_and_serial(tbs, cert, err)) return false;

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

  if (!parse_spki(tbs, cert, err)) return false;

  if (cert->version > 1 && !parse_unique_ids_and_extensions(tbs, cert, err)) return false;

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
