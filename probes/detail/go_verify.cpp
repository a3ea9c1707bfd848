// Go's Certificate.Verify and the checks crypto/tls's client makes around
// it (handshake_client.go verifyServerCertificate), over certificates read
// by go_parse.cpp. Go's TLS client settings are in go_tls_client.cpp.
#include "probes/detail/go_verify.h"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include <algorithm>
#include <cstdio>

#include "probes/ca_bundle.h"
#include "probes/detail/go_internal.h"

namespace meshprobe::detail {
namespace {

using go::Failure;

constexpr unsigned kKeyUsageCertSign = 1u << 5;
constexpr int kMaxChainSignatureChecks = 100;
constexpr int kMinRsaBits = 1024;  // Go 1.24 crypto/rsa
constexpr int kMaxRsaBits = 8192;  // Go 1.21 crypto/tls (tlsmaxrsasize)

enum class CertType { leaf, intermediate, root };

// ---- text ------------------------------------------------------------------

std::string rfc3339(std::int64_t seconds, std::int32_t offset_minutes) {
  std::int64_t local = seconds + std::int64_t{offset_minutes} * 60;
  std::int64_t days = local / 86400;
  std::int64_t rem = local % 86400;
  if (rem < 0) {
    rem += 86400;
    --days;
  }
  // civil_from_days
  days += 719468;
  const std::int64_t era = (days >= 0 ? days : days - 146096) / 146097;
  const auto doe = static_cast<unsigned>(days - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  std::int64_t y = static_cast<std::int64_t>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  const unsigned d = doy - (153 * mp + 2) / 5 + 1;
  const unsigned m = mp < 10 ? mp + 3 : mp - 9;
  y += m <= 2;
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04lld-%02u-%02uT%02d:%02d:%02d", static_cast<long long>(y), m, d,
                static_cast<int>(rem / 3600), static_cast<int>(rem / 60 % 60),
                static_cast<int>(rem % 60));
  std::string out = buf;
  if (offset_minutes == 0) {
    out += 'Z';
  } else {
    const int abs_offset = offset_minutes < 0 ? -offset_minutes : offset_minutes;
    std::snprintf(buf, sizeof buf, "%c%02d:%02d", offset_minutes < 0 ? '-' : '+', abs_offset / 60,
                  abs_offset % 60);
    out += buf;
  }
  return out;
}

std::string rfc3339(const GoTime& t) { return rfc3339(t.seconds, t.offset_minutes); }

std::string subject_text(const GoCert& cert) {
  if (cert.x509 == nullptr) return "";
  BIO* bio = BIO_new(BIO_s_mem());
  X509_NAME_print_ex(bio, X509_get_subject_name(cert.x509), 0, XN_FLAG_RFC2253);
  char* data = nullptr;
  const long len = BIO_get_mem_data(bio, &data);
  std::string out(data, static_cast<std::size_t>(len));
  BIO_free(bio);
  return out;
}

// The name UnknownAuthorityError gives a candidate: CN, else O, else serial.
std::string candidate_name(const GoCert& cert) {
  if (!cert.common_name.empty()) return cert.common_name;
  if (!cert.first_organization.empty()) return cert.first_organization;
  std::string serial = "serial:";
  if (cert.x509 != nullptr) {
    if (BIGNUM* bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert.x509), nullptr)) {
      if (char* dec = BN_bn2dec(bn)) {
        serial += dec;
        OPENSSL_free(dec);
      }
      BN_free(bn);
    }
  }
  return serial;
}

const char* signature_algorithm_name(GoSignatureAlgorithm a) {
  switch (a) {
    case GoSignatureAlgorithm::md2_rsa: return "MD2-RSA";
    case GoSignatureAlgorithm::md5_rsa: return "MD5-RSA";
    case GoSignatureAlgorithm::sha1_rsa: return "SHA1-RSA";
    case GoSignatureAlgorithm::sha256_rsa: return "SHA256-RSA";
    case GoSignatureAlgorithm::sha384_rsa: return "SHA384-RSA";
    case GoSignatureAlgorithm::sha512_rsa: return "SHA512-RSA";
    case GoSignatureAlgorithm::dsa_sha1: return "DSA-SHA1";
    case GoSignatureAlgorithm::dsa_sha256: return "DSA-SHA256";
    case GoSignatureAlgorithm::ecdsa_sha1: return "ECDSA-SHA1";
    case GoSignatureAlgorithm::ecdsa_sha256: return "ECDSA-SHA256";
    case GoSignatureAlgorithm::ecdsa_sha384: return "ECDSA-SHA384";
    case GoSignatureAlgorithm::ecdsa_sha512: return "ECDSA-SHA512";
    case GoSignatureAlgorithm::sha256_rsapss: return "SHA256-RSAPSS";
    case GoSignatureAlgorithm::sha384_rsapss: return "SHA384-RSAPSS";
    case GoSignatureAlgorithm::sha512_rsapss: return "SHA512-RSAPSS";
    case GoSignatureAlgorithm::ed25519: return "Ed25519";
    case GoSignatureAlgorithm::unknown: break;
  }
  return "0";
}

const char* key_type_name(GoKeyType t) {
  switch (t) {
    case GoKeyType::rsa: return "*rsa.PublicKey";
    case GoKeyType::dsa: return "*dsa.PublicKey";
    case GoKeyType::ecdsa: return "*ecdsa.PublicKey";
    case GoKeyType::ed25519: return "ed25519.PublicKey";
    case GoKeyType::ecdh: return "*ecdh.PublicKey";
    case GoKeyType::none: break;
  }
  return "<nil>";
}

const char* public_key_algorithm_name(GoPublicKeyAlgorithm a) {
  switch (a) {
    case GoPublicKeyAlgorithm::rsa: return "RSA";
    case GoPublicKeyAlgorithm::dsa: return "DSA";
    case GoPublicKeyAlgorithm::ecdsa: return "ECDSA";
    case GoPublicKeyAlgorithm::ed25519: return "Ed25519";
    case GoPublicKeyAlgorithm::unknown: break;
  }
  return "0";
}

std::string rsa_key_too_small(int bits) {
  return "crypto/rsa: " + std::to_string(bits) +
         "-bit keys are insecure (see https://go.dev/pkg/crypto/rsa#hdr-Minimum_key_size)";
}

// ---- signatures ----------------------------------------------------------------

enum class Hash { none, md5, sha1, sha256, sha384, sha512 };

struct AlgorithmDetails {
  Hash hash;
  GoPublicKeyAlgorithm key;
  bool pss;
};

AlgorithmDetails details(GoSignatureAlgorithm a) {
  using K = GoPublicKeyAlgorithm;
  switch (a) {
    case GoSignatureAlgorithm::md2_rsa: return {Hash::none, K::rsa, false};
    case GoSignatureAlgorithm::md5_rsa: return {Hash::md5, K::rsa, false};
    case GoSignatureAlgorithm::sha1_rsa: return {Hash::sha1, K::rsa, false};
    case GoSignatureAlgorithm::sha256_rsa: return {Hash::sha256, K::rsa, false};
    case GoSignatureAlgorithm::sha384_rsa: return {Hash::sha384, K::rsa, false};
    case GoSignatureAlgorithm::sha512_rsa: return {Hash::sha512, K::rsa, false};
    case GoSignatureAlgorithm::dsa_sha1: return {Hash::sha1, K::dsa, false};
    case GoSignatureAlgorithm::dsa_sha256: return {Hash::sha256, K::dsa, false};
    case GoSignatureAlgorithm::ecdsa_sha1: return {Hash::sha1, K::ecdsa, false};
    case GoSignatureAlgorithm::ecdsa_sha256: return {Hash::sha256, K::ecdsa, false};
    case GoSignatureAlgorithm::ecdsa_sha384: return {Hash::sha384, K::ecdsa, false};
    case GoSignatureAlgorithm::ecdsa_sha512: return {Hash::sha512, K::ecdsa, false};
    case GoSignatureAlgorithm::sha256_rsapss: return {Hash::sha256, K::rsa, true};
    case GoSignatureAlgorithm::sha384_rsapss: return {Hash::sha384, K::rsa, true};
    case GoSignatureAlgorithm::sha512_rsapss: return {Hash::sha512, K::rsa, true};
    case GoSignatureAlgorithm::ed25519: return {Hash::none, K::ed25519, false};
    case GoSignatureAlgorithm::unknown: break;
  }
  return {Hash::none, K::unknown, false};
}

// Fetched once: an implicit fetch per verification costs a lookup each time.
const EVP_MD* message_digest(Hash h) {
  static EVP_MD* const sha256 = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  static EVP_MD* const sha384 = EVP_MD_fetch(nullptr, "SHA384", nullptr);
  static EVP_MD* const sha512 = EVP_MD_fetch(nullptr, "SHA512", nullptr);
  switch (h) {
    case Hash::sha256: return sha256;
    case Hash::sha384: return sha384;
    case Hash::sha512: return sha512;
    default: return nullptr;
  }
}

bool evp_verify(EVP_PKEY* key, const EVP_MD* md, bool pss, std::string_view signed_data,
                std::string_view signature) {
  if (key == nullptr || signature.empty()) return false;
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  EVP_PKEY_CTX* pctx = nullptr;
  bool ok = ctx != nullptr && EVP_DigestVerifyInit(ctx, &pctx, md, nullptr, key) == 1;
  if (ok && pss) {
    ok = EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) == 1 &&
         EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) == 1 &&
         EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, md) == 1;
  }
  if (ok) {
    ok = EVP_DigestVerify(
             ctx, reinterpret_cast<const unsigned char*>(signature.data()), signature.size(),
             reinterpret_cast<const unsigned char*>(signed_data.data()), signed_data.size()) == 1;
  }
  EVP_MD_CTX_free(ctx);
  ERR_clear_error();
  return ok;
}

// A CheckSignatureFrom error: Go's text, and whether it names a rule of the
// certificates (insecure or unimplemented algorithms, a parent that may not
// sign, a weak key) rather than a signature by another key.
struct SignatureError {
  std::string text;
  bool rule = false;
  std::string advice;
};

// checkSignature(algo, signed, signature, parent's key, allowSHA1 = false).
std::optional<SignatureError> check_signature(const GoCert& child, const GoCert& parent) {
  const AlgorithmDetails d = details(child.signature_algorithm);
  const char* name = signature_algorithm_name(child.signature_algorithm);
  switch (d.hash) {
    case Hash::none:
      if (d.key != GoPublicKeyAlgorithm::ed25519) {
        return SignatureError{"x509: cannot verify signature: algorithm unimplemented", true,
                              "it is signed with an algorithm Go does not implement (such as "
                              "SHA-224, MD2 or DSA): reissue it signed with ECDSA, RSA or "
                              "Ed25519 over SHA-256 or better"};
      }
      break;
    case Hash::md5:
    case Hash::sha1:
      // Go 1.24 dropped the GODEBUG x509sha1 escape hatch and its mention.
      return SignatureError{
          std::string("x509: cannot verify signature: insecure algorithm ") + name, true,
          std::string("it is signed with ") + name +
              ", which Go refuses: reissue it signed with SHA-256 or better"};
    default: break;
  }
  auto mismatch = [&](GoKeyType have) {
    return SignatureError{std::string("x509: signature algorithm specifies an ") +
                              public_key_algorithm_name(d.key) +
                              " public key, but have public key of type " + key_type_name(have),
                          false, ""};
  };
  EVP_PKEY* key = parent.x509 != nullptr ? X509_get0_pubkey(parent.x509) : nullptr;
  switch (parent.key_type) {
    case GoKeyType::rsa:
      if (d.key != GoPublicKeyAlgorithm::rsa) return mismatch(parent.key_type);
      if (parent.rsa_bits < kMinRsaBits) {
        return SignatureError{rsa_key_too_small(parent.rsa_bits), true,
                              "its issuer's RSA key has " + std::to_string(parent.rsa_bits) +
                                  " bits, under Go's floor of 1024 (Go 1.24): reissue the CA "
                                  "with a 2048-bit or larger key"};
      }
      if (!evp_verify(key, message_digest(d.hash), d.pss, child.raw_tbs, child.signature)) {
        return SignatureError{"crypto/rsa: verification error", false, ""};
      }
      return std::nullopt;
    case GoKeyType::ecdsa:
      if (d.key != GoPublicKeyAlgorithm::ecdsa) return mismatch(parent.key_type);
      if (!evp_verify(key, message_digest(d.hash), false, child.raw_tbs, child.signature)) {
        return SignatureError{"x509: ECDSA verification failure", false, ""};
      }
      return std::nullopt;
    case GoKeyType::ed25519:
      if (d.key != GoPublicKeyAlgorithm::ed25519) return mismatch(parent.key_type);
      if (!evp_verify(key, nullptr, false, child.raw_tbs, child.signature)) {
        return SignatureError{"x509: Ed25519 verification failure", false, ""};
      }
      return std::nullopt;
    default:
      return SignatureError{"x509: cannot verify signature: algorithm unimplemented", true,
                            "its issuer's key is of a type Go cannot verify certificates with "
                            "(such as DSA): reissue the CA with an ECDSA, RSA or Ed25519 key"};
  }
}

// CheckSignatureFrom.
std::optional<SignatureError> check_signature_from(const GoCert& child, const GoCert& parent) {
  if ((parent.version == 3 && !parent.basic_constraints_valid) ||
      (parent.basic_constraints_valid && !parent.is_ca) ||
      (parent.key_usage != 0 && (parent.key_usage & kKeyUsageCertSign) == 0)) {
    return SignatureError{
        "x509: invalid signature: parent certificate cannot sign this kind of certificate", true,
        "its issuer may not sign certificates: Go requires a version 3 CA to have "
        "basicConstraints CA:TRUE and, when it has keyUsage, keyCertSign in it"};
  }
  if (parent.public_key_algorithm == GoPublicKeyAlgorithm::unknown) {
    return SignatureError{"x509: cannot verify signature: algorithm unimplemented", true,
                          "its issuer's key is of a type Go cannot read: reissue the CA with an "
                          "ECDSA, RSA or Ed25519 key"};
  }
  return check_signature(child, parent);
}

// ---- chain building ------------------------------------------------------------

using Chain = std::vector<const GoCert*>;

bool already_in_chain(const GoCert& candidate, const Chain& chain) {
  for (const GoCert* cert : chain) {
    if (candidate.raw_subject != cert->raw_subject) continue;
    // Current Go compares the raw SubjectPublicKeyInfo (its parser allows
    // one encoding of each key).
    if (candidate.raw_spki != cert->raw_spki) continue;
    if (!candidate.has_san && !cert->has_san) return true;
    if (!candidate.has_san || !cert->has_san) return false;
    if (candidate.san_value == cert->san_value) return true;
  }
  return false;
}

bool check_chain_for_key_usage(const Chain& chain) {
  // The one usage asked for: ExtKeyUsageServerAuth.
  for (auto it = chain.rbegin(); it != chain.rend(); ++it) {
    const GoCert& cert = **it;
    if (cert.ext_key_usage.empty() && !cert.has_unknown_ext_key_usage) continue;
    if (std::find(cert.ext_key_usage.begin(), cert.ext_key_usage.end(), GoExtKeyUsage::any) !=
        cert.ext_key_usage.end()) {
      continue;
    }
    if (std::find(cert.ext_key_usage.begin(), cert.ext_key_usage.end(),
                  GoExtKeyUsage::server_auth) == cert.ext_key_usage.end()) {
      return false;
    }
  }
  return true;
}

class Verifier {
 public:
  Verifier(const GoCertPool& roots, const GoCertPool& intermediates, std::int64_t now_seconds,
           std::int32_t now_nanos)
      : roots_(roots), intermediates_(intermediates), now_s_(now_seconds), now_ns_(now_nanos) {}

  Failure verify(const GoCert& leaf, std::string_view name) {
    if (Failure f = is_valid(leaf, CertType::leaf, {})) return f;
    if (!name.empty()) {
      if (auto error = go::verify_hostname(leaf, name)) {
        return {Diagnosis::tls_name_mismatch, std::move(*error), &leaf,
                hostname_advice(leaf, name)};
      }
    }
    std::vector<Chain> chains;
    if (roots_.contains(leaf)) {
      chains.push_back({&leaf});
    } else if (Failure f = build_chains({&leaf}, &chains)) {
      return f;
    }
    for (const Chain& chain : chains) {
      if (check_chain_for_key_usage(chain)) return {};
    }
    return {Diagnosis::tls_invalid_certificate,
            "x509: certificate specifies an incompatible key usage", &leaf,
            "no chain to the CA bundle allows serverAuth: extended key usages nest down the "
            "chain, so the leaf and every CA above it that lists extended key usages must "
            "include serverAuth (or anyExtendedKeyUsage): reissue the one that lacks it"};
  }

 private:
  bool before(const GoTime& t) const {
    return now_s_ < t.seconds || (now_s_ == t.seconds && now_ns_ < t.nanos);
  }
  bool after(const GoTime& t) const {
    return now_s_ > t.seconds || (now_s_ == t.seconds && now_ns_ > t.nanos);
  }

  static std::string hostname_advice(const GoCert& leaf, std::string_view name) {
    const bool ip = go::parse_ip(name.size() >= 3 && name.front() == '[' && name.back() == ']'
                                     ? name.substr(1, name.size() - 2)
                                     : name)
                        .has_value();
    std::string advice = "it does not cover " + std::string(name);
    if (!leaf.has_san) {
      advice += ": it has no subjectAltName, and Go ignores the Common Name";
    } else if (ip) {
      advice += ": Go matches an IP address against IP SANs only";
    } else {
      advice += ": Go matches DNS SANs only (a wildcard covers exactly one leftmost label)";
    }
    advice += "; reissue it with " + std::string(name) + " in its " + (ip ? "IP" : "DNS") +
              " SANs, or probe a name it covers";
    return advice;
  }

  // isValid.
  Failure is_valid(const GoCert& c, CertType type, const Chain& current) {
    if (c.unhandled_critical_extension) {
      return {Diagnosis::tls_invalid_certificate, "x509: unhandled critical extension", &c,
              "it carries an extension marked critical that Go does not process: reissue it "
              "without that extension, or with it non-critical"};
    }
    if (!current.empty() && current.back()->raw_issuer != c.raw_subject) {
      return {Diagnosis::tls_unknown_authority,
              "x509: issuer name does not match subject from issuing certificate", &c, ""};
    }
    if (before(c.not_before)) {
      return {Diagnosis::tls_not_yet_valid,
              "x509: certificate has expired or is not yet valid: current time " +
                  rfc3339(now_s_, 0) + " is before " + rfc3339(c.not_before),
              &c,
              "it is not valid before " + rfc3339(c.not_before) +
                  ": a clock is wrong here or where it was issued, or it was rotated in early"};
    }
    if (after(c.not_after)) {
      return {Diagnosis::tls_expired,
              "x509: certificate has expired or is not yet valid: current time " +
                  rfc3339(now_s_, 0) + " is after " + rfc3339(c.not_after),
              &c, "it expired at " + rfc3339(c.not_after) + ": rotate it"};
    }
    if (type != CertType::leaf && c.has_name_constraints) {
      int count = 0;
      if (Failure f = go::check_name_constraints(c, *current.front(), &count)) return f;
    }
    if (type == CertType::intermediate && (!c.basic_constraints_valid || !c.is_ca)) {
      return {Diagnosis::tls_invalid_certificate,
              "x509: certificate is not authorized to sign other certificates", &c,
              "it is used as an intermediate but is not a CA (a version 1 certificate, or "
              "basicConstraints without CA:TRUE): reissue it with basicConstraints CA:TRUE"};
    }
    if (c.basic_constraints_valid && c.max_path_len >= 0) {
      const auto intermediates = static_cast<std::int64_t>(current.size()) - 1;
      if (intermediates > c.max_path_len) {
        return {Diagnosis::tls_invalid_certificate,
                "x509: too many intermediates for path length constraint", &c,
                "its pathLenConstraint (" + std::to_string(c.max_path_len) +
                    ") allows fewer intermediates below it than the chain has (" +
                    std::to_string(intermediates) +
                    "): reissue it with a larger path length, or shorten the chain"};
      }
    }
    return {};
  }

  // buildChains: roots first, then the served intermediates; every
  // candidate; the first CheckSignatureFrom error as the hint of an unknown
  // authority; the last error of a candidate when no chain is found.
  Failure build_chains(const Chain& current, std::vector<Chain>* chains) {
    const GoCert& c = *current.back();
    Failure err;
    std::optional<SignatureError> hint;
    const GoCert* hint_cert = nullptr;
    std::vector<const GoCert*> candidates;

    auto consider = [&](CertType type, const GoCert* candidate) {
      if (already_in_chain(*candidate, current)) return;
      if (++signature_checks_ > kMaxChainSignatureChecks) {
        err = {Diagnosis::tls_unknown_authority,
               "x509: signature check attempts limit reached while verifying certificate chain", &c,
               "more than 100 candidate issuers had to be tried (certificates with the "
               "issuer's name but other keys): remove the stale CA certificates of that name "
               "from the bundle and the served chain"};
        return;
      }
      if (auto e = check_signature_from(c, *candidate)) {
        if (!hint) {
          hint = std::move(e);
          hint_cert = candidate;
        }
        return;
      }
      err = is_valid(*candidate, type, current);
      if (err) return;
      Chain next = current;
      next.push_back(candidate);
      if (type == CertType::root) {
        chains->push_back(std::move(next));
      } else {
        std::vector<Chain> child;
        err = build_chains(next, &child);
        for (Chain& chain : child) chains->push_back(std::move(chain));
      }
    };

    roots_.potential_parents(c, candidates);
    for (const GoCert* root : candidates) consider(CertType::root, root);
    candidates.clear();
    intermediates_.potential_parents(c, candidates);
    for (const GoCert* intermediate : candidates) consider(CertType::intermediate, intermediate);

    if (!chains->empty()) return {};
    if (err) return err;
    std::string text = "x509: certificate signed by unknown authority";
    if (!hint) {
      return {Diagnosis::tls_unknown_authority, std::move(text), &c,
              "no certificate of the CA bundle issued it, and the server does not serve the "
              "one that did: the bundle is stale or from another CA, or an intermediate is "
              "missing from the served chain"};
    }
    text += " (possibly because of " + go::quote(hint->text) +
            " while trying to verify candidate authority certificate " +
            go::quote(candidate_name(*hint_cert)) + ")";
    if (hint->rule) {
      return {Diagnosis::tls_invalid_certificate, std::move(text), &c, hint->advice};
    }
    return {Diagnosis::tls_unknown_authority, std::move(text), &c,
            "a certificate with its issuer's name is there, but its key did not sign it: the "
            "CA bundle holds another CA of the same name (a rotated or regenerated root): "
            "update the bundle"};
  }

  const GoCertPool& roots_;
  const GoCertPool& intermediates_;
  std::int64_t now_s_;
  std::int32_t now_ns_;
  int signature_checks_ = 0;
};

constexpr const char* kUnsupportedKeyAdvice =
    "its key is of a type Go's TLS client cannot use (Go takes RSA, ECDSA on P-224/P-256/"
    "P-384/P-521 and Ed25519 keys): reissue it with an ECDSA P-256 or RSA key";

}  // namespace

// ---- GoCertPool --------------------------------------------------------------

bool GoCertPool::add(std::shared_ptr<const GoCert> cert) {
  if (contains(*cert)) return false;
  if (indexed_) {
    der_.insert(cert->der);
    by_subject_[cert->raw_subject].push_back(certs_.size());
  }
  certs_.push_back(std::move(cert));
  return true;
}

bool GoCertPool::contains(const GoCert& cert) const {
  if (indexed_) return der_.contains(cert.der);
  for (const auto& c : certs_) {
    if (c->der == cert.der) return true;
  }
  return false;
}

void GoCertPool::potential_parents(const GoCert& child, std::vector<const GoCert*>& out) const {
  // Three passes in Go's order of plausibility: AKID and SKID match (or
  // both absent), one of them absent, they differ.
  auto collect = [&](auto&& visit) {
    if (indexed_) {
      const auto found = by_subject_.find(child.raw_issuer);
      if (found == by_subject_.end()) return;
      for (std::size_t i : found->second) visit(*certs_[i]);
    } else {
      for (const auto& c : certs_) {
        if (c->raw_subject == child.raw_issuer) visit(*c);
      }
    }
  };
  auto kind = [&](const GoCert& c) {
    if (c.subject_key_id == child.authority_key_id) return 0;
    if (c.subject_key_id.empty() != child.authority_key_id.empty()) return 1;
    return 2;
  };
  for (int pass = 0; pass < 3; ++pass) {
    collect([&](const GoCert& c) {
      if (kind(c) == pass) out.push_back(&c);
    });
  }
}

// ---- the verdict ---------------------------------------------------------------

std::string GoVerdict::message() const {
  if (explanation.empty()) return go_error;
  return go_error + "; " + explanation;
}

GoVerdict go_verify_chain(std::span<X509* const> served, const GoCertPool& roots,
                          std::string_view server_name, std::chrono::system_clock::time_point now) {
  std::vector<std::shared_ptr<const GoCert>> certs;
  certs.reserve(served.size());
  auto where = [&](const GoCert* cert) -> std::string {
    for (std::size_t i = 0; i < certs.size(); ++i) {
      if (certs[i].get() == cert) {
        return i == 0 ? "the server certificate" : "served certificate #" + std::to_string(i + 1);
      }
    }
    return "the CA bundle's certificate";
  };
  auto refuse = [&](const Failure& f) {
    GoVerdict v;
    v.diagnosis = f.diagnosis;
    v.go_error = f.text;
    if (f.cert != nullptr) {
      const std::string subject = subject_text(*f.cert);
      v.explanation = where(f.cert) + " (subject \"" + subject + "\")";
      if (!f.advice.empty()) v.explanation += ": " + f.advice;
    } else {
      v.explanation = f.advice;
    }
    return v;
  };

  if (served.empty()) {
    return {Diagnosis::tls_protocol_error, "tls: server didn't provide a certificate",
            "the server sent an empty Certificate message"};
  }
  // crypto/tls: parse each certificate, refusing RSA keys over 8192 bits.
  for (X509* x509 : served) {
    certs.push_back(parse_go_certificate(x509));
    const GoCert& cert = *certs.back();
    if (!cert.parsed()) {
      return refuse({Diagnosis::tls_invalid_certificate,
                     "tls: failed to parse certificate from server: " + cert.parse_error, &cert,
                     "Go cannot parse it (" + cert.parse_error + "): reissue it"});
    }
    if (cert.public_key_algorithm == GoPublicKeyAlgorithm::rsa && cert.rsa_bits > kMaxRsaBits) {
      return refuse({Diagnosis::tls_invalid_certificate,
                     "tls: server sent certificate containing RSA key larger than 8192 bits", &cert,
                     "its RSA key has " + std::to_string(cert.rsa_bits) +
                         " bits, over Go's limit of 8192: reissue it with a smaller key"});
    }
  }
  GoCertPool intermediates;
  for (std::size_t i = 1; i < certs.size(); ++i) intermediates.add(certs[i]);

  const auto since_epoch = now.time_since_epoch();
  const auto seconds = std::chrono::floor<std::chrono::seconds>(since_epoch);
  const auto nanos = std::chrono::duration_cast<std::chrono::nanoseconds>(since_epoch - seconds);
  Verifier verifier(roots, intermediates, seconds.count(),
                    static_cast<std::int32_t>(nanos.count()));
  const GoCert& leaf = *certs.front();
  if (Failure f = verifier.verify(leaf, server_name)) {
    // Current Go wraps Verify's error (tls.CertificateVerificationError).
    f.text = "tls: failed to verify certificate: " + f.text;
    return refuse(f);
  }
  switch (leaf.key_type) {
    case GoKeyType::rsa:
    case GoKeyType::ecdsa:
    case GoKeyType::ed25519: break;
    default:
      return refuse({Diagnosis::tls_invalid_certificate,
                     std::string("tls: server's certificate contains an unsupported type of "
                                 "public key: ") +
                         key_type_name(leaf.key_type),
                     &leaf, kUnsupportedKeyAdvice});
  }
  // Go 1.24's crypto/rsa refuses keys under 1024 bits, so the server's
  // handshake signature cannot be checked: what the handshake would say next.
  if (leaf.key_type == GoKeyType::rsa && leaf.rsa_bits < kMinRsaBits) {
    return refuse(
        {Diagnosis::tls_invalid_certificate,
         "tls: invalid signature by the server certificate: " + rsa_key_too_small(leaf.rsa_bits),
         &leaf,
         "its RSA key has " + std::to_string(leaf.rsa_bits) +
             " bits, under Go's floor of 1024 (Go 1.24): reissue it with a 2048-bit "
             "RSA or an ECDSA P-256 key"});
  }
  return {};
}

std::string go_sni_host_name(std::string_view name) {
  std::string_view host = name;
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  if (const std::size_t percent = host.rfind('%');
      percent != std::string_view::npos && percent > 0) {
    host = host.substr(0, percent);
  }
  if (go::parse_ip(host)) return "";
  while (!name.empty() && name.back() == '.') name.remove_suffix(1);
  return std::string(name);
}

}  // namespace meshprobe::detail
