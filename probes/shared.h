// What every probe of one Prober shares: its io_context and options, the
// name lookup pool, and the TLS client contexts, one per ALPN offer (so one
// context serves every target: the trust and the expected name are set per
// connection). Private to probes/.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ssl/context.hpp>

#include <memory>
#include <string_view>

#include "probes/ca_bundle.h"
#include "probes/detail/resolver.h"
#include "probes/detail/session_cache.h"
#include "probes/prober.h"
#include "probes/target.h"

namespace meshprobe::detail {

// A TLS client context that offers `alpn` (wire format; empty: no ALPN).
// tls_probe.cpp.
std::unique_ptr<boost::asio::ssl::context> make_tls_context(std::string_view alpn);

struct Shared {
  Shared(boost::asio::io_context& io_context, ProberOptions opts);

  // The context whose ALPN offer suits `kind`.
  boost::asio::ssl::context& tls_context(ProbeKind kind);

  // Loaded on first use: reading the system store costs tens of
  // milliseconds, and most deployments name their own bundle. Null when it
  // cannot be loaded.
  const CaBundle* system_trust();

  boost::asio::io_context& io;
  ProberOptions options;
  LookupPool lookups;
  std::unique_ptr<boost::asio::ssl::context> tls_plain, tls_http11, tls_h2;
  std::shared_ptr<const CaBundle> system_bundle;
  SessionCache tls_sessions;
};

}  // namespace meshprobe::detail
