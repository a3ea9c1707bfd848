#include "test/support/test_pki.h"

#include <openssl/asn1.h>

#include <arpa/inet.h>

#include <cstdlib>
#include <ctime>
#include <fstream>
#include <stdexcept>

#include "test/support/openssl_util.h"

namespace meshprobe::test {
namespace {

EvpPkeyPtr generate_p256_key() {
  using CtxPtr = std::unique_ptr<EVP_PKEY_CTX, OpenSslDeleter<EVP_PKEY_CTX_free>>;
  CtxPtr ctx(EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr));
  EVP_PKEY* key = nullptr;
  if (!ctx || EVP_PKEY_keygen_init(ctx.get()) != 1 ||
      EVP_PKEY_CTX_set_group_name(ctx.get(), "P-256") != 1 ||
      EVP_PKEY_generate(ctx.get(), &key) != 1) {
    throw_openssl_error("generating a P-256 key");
  }
  return EvpPkeyPtr(key);
}

std::chrono::system_clock::time_point to_time_point(const ASN1_TIME* time) {
  std::tm fields{};
  if (ASN1_TIME_to_tm(time, &fields) != 1) throw_openssl_error("ASN1_TIME_to_tm");
  return std::chrono::system_clock::from_time_t(timegm(&fields));
}

// A certificate with a random serial, `key`'s public half and the validity
// window; subject, issuer and extensions are up to the caller.
X509Ptr new_certificate(EVP_PKEY* key, const Validity& validity) {
  X509Ptr certificate(X509_new());
  BignumPtr serial(BN_new());
  if (!certificate || !serial || X509_set_version(certificate.get(), X509_VERSION_3) != 1 ||
      BN_rand(serial.get(), 127, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) != 1 ||
      !BN_to_ASN1_INTEGER(serial.get(), X509_get_serialNumber(certificate.get())) ||
      !X509_gmtime_adj(X509_getm_notBefore(certificate.get()),
                       validity.not_before_offset.count()) ||
      !X509_gmtime_adj(X509_getm_notAfter(certificate.get()), validity.not_after_offset.count()) ||
      X509_set_pubkey(certificate.get(), key) != 1) {
    throw_openssl_error("building a certificate");
  }
  return certificate;
}

void set_common_name(X509* certificate, const std::string& common_name) {
  X509_NAME* subject = X509_get_subject_name(certificate);
  if (X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_UTF8,
                                 reinterpret_cast<const unsigned char*>(common_name.c_str()), -1,
                                 -1, 0) != 1) {
    throw_openssl_error("setting CN=" + common_name);
  }
}

void add_extension(X509* certificate, X509* issuer, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, issuer, certificate, nullptr, nullptr, 0);
  X509ExtensionPtr extension(X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str()));
  if (!extension || X509_add_ext(certificate, extension.get(), -1) != 1) {
    throw_openssl_error("adding extension " + value);
  }
}

std::string subject_alt_names(const std::vector<std::string>& sans) {
  std::string names;
  for (const std::string& san : sans) {
    unsigned char address[16];
    bool is_ip = inet_pton(AF_INET, san.c_str(), address) == 1 ||
                 inet_pton(AF_INET6, san.c_str(), address) == 1;
    if (!names.empty()) names += ',';
    names += (is_ip ? "IP:" : "DNS:") + san;
  }
  return names;
}

void sign(X509* certificate, EVP_PKEY* issuer_key) {
  if (X509_sign(certificate, issuer_key, EVP_sha256()) <= 0) throw_openssl_error("X509_sign");
}

TestCert make_test_cert(X509* certificate, EVP_PKEY* key) {
  return TestCert{to_pem(certificate), to_pem(key), to_time_point(X509_get0_notBefore(certificate)),
                  to_time_point(X509_get0_notAfter(certificate))};
}

}  // namespace

PemFiles TestCert::write(const std::filesystem::path& dir, std::string_view stem) const {
  PemFiles files{dir / (std::string(stem) + ".pem"), dir / (std::string(stem) + "-key.pem")};
  write_file(files.cert, cert_pem);
  write_file(files.key, key_pem);
  return files;
}

TestCa TestCa::create(const std::string& common_name, Validity validity) {
  EvpPkeyPtr key = generate_p256_key();
  X509Ptr certificate = new_certificate(key.get(), validity);
  set_common_name(certificate.get(), common_name);
  X509_set_issuer_name(certificate.get(), X509_get_subject_name(certificate.get()));
  add_extension(certificate.get(), certificate.get(), NID_basic_constraints, "critical,CA:TRUE");
  add_extension(certificate.get(), certificate.get(), NID_key_usage,
                "critical,keyCertSign,cRLSign");
  add_extension(certificate.get(), certificate.get(), NID_subject_key_identifier, "hash");
  sign(certificate.get(), key.get());
  return TestCa{make_test_cert(certificate.get(), key.get())};
}

TestCert TestCa::issue(const LeafSpec& spec) const {
  X509Ptr issuer = std::move(read_certificates(cert_pem).front());
  EvpPkeyPtr issuer_key = read_private_key(key_pem);
  EvpPkeyPtr key = generate_p256_key();
  X509Ptr certificate = new_certificate(key.get(), spec.validity);
  if (!spec.common_name.empty()) set_common_name(certificate.get(), spec.common_name);
  X509_set_issuer_name(certificate.get(), X509_get_subject_name(issuer.get()));
  add_extension(certificate.get(), issuer.get(), NID_basic_constraints, "critical,CA:FALSE");
  add_extension(certificate.get(), issuer.get(), NID_key_usage, "critical,digitalSignature");
  add_extension(certificate.get(), issuer.get(), NID_ext_key_usage, "serverAuth,clientAuth");
  add_extension(certificate.get(), issuer.get(), NID_authority_key_identifier, "keyid:always");
  if (!spec.sans.empty()) {
    // RFC 5280: with an empty subject the SANs carry the identity and are critical.
    std::string critical = spec.common_name.empty() ? "critical," : "";
    add_extension(certificate.get(), issuer.get(), NID_subject_alt_name,
                  critical + subject_alt_names(spec.sans));
  }
  sign(certificate.get(), issuer_key.get());
  return make_test_cert(certificate.get(), key.get());
}

TempDir::TempDir() {
  std::string pattern = (std::filesystem::temp_directory_path() / "meshprobe-test-XXXXXX").string();
  if (::mkdtemp(pattern.data()) == nullptr) {
    throw std::runtime_error("mkdtemp " + pattern + " failed");
  }
  path_ = pattern;
}

TempDir::~TempDir() {
  std::error_code ignored;
  std::filesystem::remove_all(path_, ignored);
}

void write_file(const std::filesystem::path& file, std::string_view text) {
  std::ofstream out(file, std::ios::binary | std::ios::trunc);
  out.write(text.data(), static_cast<std::streamsize>(text.size()));
  out.close();
  if (!out) throw std::runtime_error("cannot write " + file.string());
}

}  // namespace meshprobe::test
