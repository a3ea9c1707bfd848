// libcurl, loaded when Kubernetes mode first needs it rather than linked.
// With the libraries it brings (GnuTLS, Kerberos, LDAP, SSH, IDN, ...) it
// would cost every node's agent resident memory (the README's performance
// section has the figure), Kubernetes mode or not; most agents never call
// the API server.
#pragma once

#include <curl/curl.h>

namespace meshprobe::kube::detail {

// The subset of libcurl's API the client uses, resolved from libcurl.so.4.
struct Libcurl {
  CURL* (*easy_init)();
  void (*easy_cleanup)(CURL*);
  void (*easy_reset)(CURL*);
  CURLcode (*easy_setopt)(CURL*, CURLoption, ...);
  CURLcode (*easy_perform)(CURL*);
  CURLcode (*easy_getinfo)(CURL*, CURLINFO, ...);
  const char* (*easy_strerror)(CURLcode);
  curl_slist* (*slist_append)(curl_slist*, const char*);
  void (*slist_free_all)(curl_slist*);
};

// Loads and initialises libcurl once (thread-safe; curl_global_init runs
// exactly once). Throws std::runtime_error naming the library and the
// loader's reason when it is missing or lacks a symbol.
const Libcurl& libcurl();

}  // namespace meshprobe::kube::detail
