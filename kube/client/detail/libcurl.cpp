#include "kube/client/detail/libcurl.h"

#include <dlfcn.h>

#include <stdexcept>
#include <string>

namespace meshprobe::kube::detail {
namespace {

// The soname the headers we build against belong to (Debian's libcurl4,
// the OpenSSL flavour). deploy/image/assemble-rootfs.sh copies it and its
// libraries into the image, since ldd of the binary no longer names it.
constexpr const char* kSoname = "libcurl.so.4";

template <typename Function>
void resolve(void* library, const char* name, Function*& slot) {
  void* symbol = ::dlsym(library, name);
  if (symbol == nullptr) {
    throw std::runtime_error(std::string("Kubernetes mode: ") + kSoname + " has no " + name);
  }
  // POSIX guarantees object and function pointers convert through dlsym.
  slot = reinterpret_cast<Function*>(symbol);
}

Libcurl load() {
  // RTLD_LOCAL: its libraries' symbols (GnuTLS, a second OpenSSL user) stay
  // out of the global namespace. Never unloaded: libcurl keeps global state.
  void* library = ::dlopen(kSoname, RTLD_NOW | RTLD_LOCAL);
  if (library == nullptr) {
    const char* reason = ::dlerror();
    throw std::runtime_error(
        std::string("Kubernetes mode needs ") + kSoname +
        " (Debian package libcurl4): " + (reason != nullptr ? reason : "cannot load it"));
  }
  Libcurl curl{};
  CURLcode (*global_init)(long) = nullptr;
  resolve(library, "curl_global_init", global_init);
  resolve(library, "curl_easy_init", curl.easy_init);
  resolve(library, "curl_easy_cleanup", curl.easy_cleanup);
  resolve(library, "curl_easy_reset", curl.easy_reset);
  resolve(library, "curl_easy_setopt", curl.easy_setopt);
  resolve(library, "curl_easy_perform", curl.easy_perform);
  resolve(library, "curl_easy_getinfo", curl.easy_getinfo);
  resolve(library, "curl_easy_strerror", curl.easy_strerror);
  resolve(library, "curl_slist_append", curl.slist_append);
  resolve(library, "curl_slist_free_all", curl.slist_free_all);
  // Not safe to race with other threads: runs under the static's guard.
  if (const CURLcode code = global_init(CURL_GLOBAL_DEFAULT); code != CURLE_OK) {
    throw std::runtime_error(std::string("Kubernetes mode: curl_global_init failed: ") +
                             curl.easy_strerror(code));
  }
  return curl;
}

}  // namespace

const Libcurl& libcurl() {
  static const Libcurl loaded = load();
  return loaded;
}

}  // namespace meshprobe::kube::detail
