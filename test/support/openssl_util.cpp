#include "test/support/openssl_util.h"

#include <openssl/err.h>
#include <openssl/pem.h>

#include <stdexcept>

namespace meshprobe::test {
namespace {

BioPtr memory_bio(std::string_view text) {
  BioPtr bio(BIO_new_mem_buf(text.data(), static_cast<int>(text.size())));
  if (!bio) throw_openssl_error("BIO_new_mem_buf");
  return bio;
}

BioPtr empty_memory_bio() {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio) throw_openssl_error("BIO_new");
  return bio;
}

std::string drain(BIO* bio) {
  std::string text(BIO_ctrl_pending(bio), '\0');
  if (!text.empty() && BIO_read(bio, text.data(), static_cast<int>(text.size())) <= 0) {
    throw_openssl_error("BIO_read");
  }
  return text;
}

}  // namespace

void throw_openssl_error(const std::string& what) {
  std::string message = what;
  while (unsigned long code = ERR_get_error()) {
    char reason[256];
    ERR_error_string_n(code, reason, sizeof reason);
    message += ": ";
    message += reason;
  }
  throw std::runtime_error(message);
}

std::vector<X509Ptr> read_certificates(std::string_view pem) {
  BioPtr bio = memory_bio(pem);
  std::vector<X509Ptr> certificates;
  while (X509* certificate = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)) {
    certificates.emplace_back(certificate);
  }
  // Reading stops at the end of the text with a "no start line" error.
  ERR_clear_error();
  if (certificates.empty()) throw std::runtime_error("no certificate in PEM text");
  return certificates;
}

EvpPkeyPtr read_private_key(std::string_view pem) {
  BioPtr bio = memory_bio(pem);
  EvpPkeyPtr key(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
  if (!key) throw_openssl_error("PEM_read_bio_PrivateKey");
  return key;
}

std::string to_pem(X509* certificate) {
  BioPtr bio = empty_memory_bio();
  if (PEM_write_bio_X509(bio.get(), certificate) != 1) {
    throw_openssl_error("PEM_write_bio_X509");
  }
  return drain(bio.get());
}

std::string to_pem(EVP_PKEY* private_key) {
  BioPtr bio = empty_memory_bio();
  if (PEM_write_bio_PrivateKey(bio.get(), private_key, nullptr, nullptr, 0, nullptr, nullptr) !=
      1) {
    throw_openssl_error("PEM_write_bio_PrivateKey");
  }
  return drain(bio.get());
}

}  // namespace meshprobe::test
