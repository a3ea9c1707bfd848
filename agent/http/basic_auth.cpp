#include "agent/http/basic_auth.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <utility>

#include "common/base64.h"
#include "config/web_config.h"

namespace meshprobe {
namespace {

namespace asio = boost::asio;

// A remembered password is forgotten past this many, so memory stays bounded
// whatever clients send (only passwords that matched are remembered).
constexpr std::size_t kMaxRememberedPasswords = 1024;

struct Credentials {
  std::string user;
  std::string password;
};

// "Basic base64(user:password)"; nullopt for anything else.
std::optional<Credentials> basic_credentials(std::string_view header) {
  constexpr std::string_view kScheme = "basic ";
  if (header.size() <= kScheme.size()) return std::nullopt;
  for (std::size_t i = 0; i < kScheme.size(); ++i) {
    const char c = header[i];
    if ((c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c) != kScheme[i]) {
      return std::nullopt;
    }
  }
  std::string_view token = header.substr(kScheme.size());
  while (!token.empty() && token.front() == ' ') token.remove_prefix(1);
  while (!token.empty() && token.back() == ' ') token.remove_suffix(1);
  // A token is one word: spaces inside it are not skipped. An empty one
  // decodes to "", refused below for want of a colon.
  std::optional<std::string> decoded = base64_decode(token, Base64Spaces::refuse);
  if (!decoded) return std::nullopt;
  const std::size_t colon = decoded->find(':');
  if (colon == std::string::npos) {
    OPENSSL_cleanse(decoded->data(), decoded->size());
    return std::nullopt;
  }
  Credentials credentials{decoded->substr(0, colon), decoded->substr(colon + 1)};
  OPENSSL_cleanse(decoded->data(), decoded->size());
  return credentials;
}

// What a verified user and password are remembered by.
std::string password_digest(std::string_view user, std::string_view password) {
  std::string input;
  input.reserve(user.size() + 1 + password.size());
  input.append(user).append(1, '\0').append(password);
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_Digest(input.data(), input.size(), digest, &length, EVP_sha256(), nullptr);
  OPENSSL_cleanse(input.data(), input.size());
  return std::string(reinterpret_cast<const char*>(digest), length);
}

asio::awaitable<bool> bcrypt_on_worker(std::string hash, std::string password) {
  const bool matches = bcrypt_matches(hash, password);
  OPENSSL_cleanse(password.data(), password.size());
  co_return matches;
}

}  // namespace

void BasicAuth::set_users(const Users& users) {
  users_ = std::make_shared<const Users>(users);
  remembered_passwords_.clear();
  if (!users_->empty() && !password_checker_) password_checker_.emplace(1);
}

asio::awaitable<bool> BasicAuth::allows(std::string_view authorization) {
  // The users as they are now: a reload applies to open connections too.
  const std::shared_ptr<const Users> current = users_;
  if (current->empty()) co_return true;
  std::optional<Credentials> credentials = basic_credentials(authorization);
  if (!credentials) co_return false;
  const auto user = current->find(credentials->user);
  std::string digest = password_digest(credentials->user, credentials->password);
  if (user != current->end() && remembered_passwords_.contains(digest)) co_return true;
  // An unknown user costs a bcrypt too (against another user's hash, the
  // result ignored), so timing does not tell which names exist.
  const std::string& hash = user != current->end() ? user->second : current->begin()->second;
  const bool matches = co_await asio::co_spawn(
      *password_checker_, bcrypt_on_worker(hash, std::move(credentials->password)),
      asio::use_awaitable);
  if (!matches || user == current->end()) co_return false;
  // Remembered only while these are still the users.
  if (current == users_) {
    if (remembered_passwords_.size() >= kMaxRememberedPasswords) remembered_passwords_.clear();
    remembered_passwords_.insert(std::move(digest));
  }
  co_return true;
}

void BasicAuth::stop() {
  if (password_checker_) password_checker_->join();
}

}  // namespace meshprobe
