// The TLS sessions a Prober resumes: one per target address, each with the
// facts of the full verification that made it. Keyed by everything that
// decides whether that verification still applies -- the target, the address,
// the expected server name, the ALPN offer (the probe kind) and the trust
// bundle's fingerprint -- so a session never crosses targets, names or
// bundles, and a changed bundle finds no session (its first probe verifies in
// full). Used on the Prober's io_context only. Private to probes/.
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

#include "probes/result.h"
#include "probes/target.h"

struct ssl_session_st;  // OpenSSL's SSL_SESSION

namespace meshprobe {
class CaBundle;
}

namespace meshprobe::detail {

struct SessionFree {
  void operator()(ssl_session_st* session) const;
};
using SessionPtr = std::unique_ptr<ssl_session_st, SessionFree>;

struct VerifiedSession {
  SessionPtr session;
  TlsInfo facts;  // of the full handshake that verified the chain
  std::chrono::steady_clock::time_point verified_at;
};

class SessionCache {
 public:
  // Bounds the memory of targets that went away without a failure or reload.
  static constexpr std::size_t kMaxSessions = 4096;

  static std::string key_of(const Target& target, std::string_view address, const CaBundle& bundle);

  // The session to offer, or null when there is none or its full
  // verification is due (`interval` after it was made: the entry is dropped).
  const VerifiedSession* resumable(const std::string& key, std::chrono::milliseconds interval,
                                   std::chrono::steady_clock::time_point now);
  // A full handshake verified the chain: the next one is due `interval`
  // after `verified_at`.
  void verified(const std::string& key, SessionPtr session, TlsInfo facts,
                std::chrono::steady_clock::time_point verified_at);
  // A resumed handshake passed and the server sent a newer ticket: it
  // replaces the old one, the verification time stays (resuming never
  // postpones the next full verification).
  void resumed(const std::string& key, SessionPtr newer);
  void forget(const std::string& key) { sessions_.erase(key); }
  void clear() { sessions_.clear(); }
  std::size_t size() const { return sessions_.size(); }

 private:
  void make_room();

  std::unordered_map<std::string, VerifiedSession> sessions_;
};

}  // namespace meshprobe::detail
