#include "probes/detail/session_cache.h"

#include <openssl/ssl.h>

#include <algorithm>
#include <utility>

#include "probes/ca_bundle.h"

namespace meshprobe::detail {

void SessionFree::operator()(ssl_session_st* session) const { SSL_SESSION_free(session); }

std::string SessionCache::key_of(const Target& target, std::string_view address,
                                 const CaBundle& bundle) {
  std::string key;
  for (std::string_view part :
       {std::string_view(target.name), address, std::string_view(target.server_name),
        kind_name(target.kind), std::string_view(bundle.source()),
        std::string_view(bundle.fingerprint())}) {
    key += part;
    key += '\0';
  }
  return key;
}

const VerifiedSession* SessionCache::resumable(const std::string& key,
                                               std::chrono::milliseconds interval,
                                               std::chrono::steady_clock::time_point now) {
  auto found = sessions_.find(key);
  if (found == sessions_.end()) return nullptr;
  if (interval.count() <= 0 || now >= found->second.verified_at + interval ||
      SSL_SESSION_is_resumable(found->second.session.get()) != 1) {
    sessions_.erase(found);
    return nullptr;
  }
  return &found->second;
}

void SessionCache::verified(const std::string& key, SessionPtr session, TlsInfo facts,
                            std::chrono::steady_clock::time_point verified_at) {
  if (!sessions_.contains(key)) make_room();
  sessions_[key] = VerifiedSession{std::move(session), std::move(facts), verified_at};
}

void SessionCache::resumed(const std::string& key, SessionPtr newer) {
  auto found = sessions_.find(key);
  if (found != sessions_.end() && newer) found->second.session = std::move(newer);
}

void SessionCache::make_room() {
  if (sessions_.size() < kMaxSessions) return;
  // The oldest verification is the next one due anyway.
  auto oldest = std::min_element(sessions_.begin(), sessions_.end(), [](auto& a, auto& b) {
    return a.second.verified_at < b.second.verified_at;
  });
  sessions_.erase(oldest);
}

}  // namespace meshprobe::detail
