#include "probes/ca_bundle.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

namespace meshprobe {
namespace {

std::string last_openssl_error() {
  unsigned long code = ERR_get_error();
  ERR_clear_error();
  if (code == 0) return "unknown error";
  char buf[256];
  ERR_error_string_n(code, buf, sizeof buf);
  return buf;
}

std::string hex(const unsigned char* data, unsigned len) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(len * 2);
  for (unsigned i = 0; i < len; ++i) {
    out += kDigits[data[i] >> 4];
    out += kDigits[data[i] & 0xf];
  }
  return out;
}

}  // namespace

CaBundle::CaBundle(X509_STORE* store, std::string source, std::size_t count,
                   std::string fingerprint)
    : store_(store),
      source_(std::move(source)),
      count_(count),
      fingerprint_(std::move(fingerprint)) {}

CaBundle::~CaBundle() { X509_STORE_free(store_); }

Expected<std::shared_ptr<const CaBundle>> CaBundle::from_pem(
    std::string_view pem, std::string source) {
  ERR_clear_error();
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  if (bio == nullptr) return Error{source + ": out of memory"};
  X509_STORE* store = X509_STORE_new();
  EVP_MD_CTX* digest = EVP_MD_CTX_new();
  EVP_DigestInit_ex(digest, EVP_sha256(), nullptr);

  std::size_t count = 0;
  std::string failure;
  while (X509* cert = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr)) {
    unsigned char* der = nullptr;
    int der_len = i2d_X509(cert, &der);
    if (der_len > 0) {
      EVP_DigestUpdate(digest, der, static_cast<std::size_t>(der_len));
      OPENSSL_free(der);
    }
    // A duplicate certificate is harmless; any other failure is not.
    if (X509_STORE_add_cert(store, cert) != 1) {
      unsigned long err = ERR_peek_last_error();
      if (ERR_GET_REASON(err) != X509_R_CERT_ALREADY_IN_HASH_TABLE) {
        failure = last_openssl_error();
      }
      ERR_clear_error();
    }
    X509_free(cert);
    ++count;
  }
  // PEM_read_bio_X509 ends with "no start line" at the end of input; anything
  // else means a certificate block that does not parse.
  unsigned long err = ERR_peek_last_error();
  if (err != 0 && !(ERR_GET_LIB(err) == ERR_LIB_PEM &&
                    ERR_GET_REASON(err) == PEM_R_NO_START_LINE)) {
    failure = "malformed certificate: " + last_openssl_error();
  }
  ERR_clear_error();
  BIO_free(bio);

  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned md_len = 0;
  EVP_DigestFinal_ex(digest, md, &md_len);
  EVP_MD_CTX_free(digest);

  if (failure.empty() && count == 0) failure = "no PEM certificate found";
  if (!failure.empty()) {
    X509_STORE_free(store);
    return Error{source + ": " + failure};
  }
  return std::shared_ptr<const CaBundle>(
      new CaBundle(store, std::move(source), count, hex(md, md_len)));
}

Expected<std::shared_ptr<const CaBundle>> CaBundle::from_file(
    const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    const int error = errno;
    return Error{path + ": cannot open CA bundle file: " + std::strerror(error), error};
  }
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) {
    const int error = errno;
    return Error{path + ": read error: " + std::strerror(error), error};
  }
  return from_pem(text.str(), path);
}

Expected<std::shared_ptr<const CaBundle>> CaBundle::system() {
  X509_STORE* store = X509_STORE_new();
  if (store == nullptr || X509_STORE_set_default_paths(store) != 1) {
    X509_STORE_free(store);
    return Error{"system trust store: " + last_openssl_error()};
  }
  return std::shared_ptr<const CaBundle>(
      new CaBundle(store, "system", 0, "system"));
}

std::shared_ptr<const CaBundle> CaBundle::empty(std::string source) {
  return std::shared_ptr<const CaBundle>(
      new CaBundle(X509_STORE_new(), std::move(source), 0, "empty"));
}

void CaBundle::prepare_openssl() {
  // An empty bundle takes every step a real one does, up to the failure.
  (void)from_pem("", "OpenSSL preparation");
}

}  // namespace meshprobe
