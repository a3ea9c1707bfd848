// Lists once, then watches: the informer pattern of client-go, for the
// agent's reads of the Kubernetes API. A ListWatch keeps the objects of one
// list path (its label and field selectors included) current: a paged list,
// then `watch=true&resourceVersion=RV&allowWatchBookmarks=true` with a
// jittered timeoutSeconds; ADDED/MODIFIED/DELETED update the objects,
// BOOKMARKs advance RV, a stream that ends is re-opened from RV, a 410
// (too old resource version) lists again, and errors back off with jitter.
// A WatchCache holds one per path and answers a list from memory, so the
// agent's reads after the first cost the API server nothing but the open
// watches.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>

#include "kube/client/api_client.h"

namespace meshprobe::kube {

struct WatchOptions {
  // timeoutSeconds of each watch: jittered in [min, 2 min), as client-go
  // does, so a fleet's watches do not end in step.
  std::chrono::seconds min_watch_timeout{300};
  // A stream with no byte for this long is re-opened from its last
  // version. kube-apiserver sends a BOOKMARK about once a minute to a watch
  // that asked for them, so three minutes of silence is a stream that died
  // without a FIN (a NAT or load balancer that dropped it).
  std::chrono::milliseconds silence_timeout{180000};
  std::chrono::milliseconds initial_backoff{500};  // doubled per failure, jittered
  std::chrono::milliseconds max_backoff{30000};
  // How long a first reader of a path waits for its first list.
  std::chrono::milliseconds sync_timeout{20000};
  std::size_t page_size = 500;
};

// A list as the API server sends it (kind, metadata.resourceVersion, items
// in namespace/name order), or the response that failed.
struct CachedList {
  bool ok = false;
  std::string body;      // when ok
  HttpResponse failure;  // when not
};

class ListWatch;

class WatchCache {
 public:
  // `on_change` runs on a watch thread after any object of any path
  // changed (not for the first list of a path).
  WatchCache(ApiClient& client, WatchOptions options, std::function<void()> on_change);
  ~WatchCache();  // stops every watch and joins its thread
  WatchCache(const WatchCache&) = delete;
  WatchCache& operator=(const WatchCache&) = delete;

  // The current list at `path` (no limit or continue: paging is the
  // cache's). Its first use starts the path's ListWatch and waits for its
  // first list; later uses answer from memory. Safe from any thread.
  CachedList list(const std::string& path);

  // A plain GET answered from memory for `ttl` (what cannot be watched,
  // e.g. one node by limit=1): only a 200 is kept.
  HttpResponse remembered_get(const std::string& path, std::chrono::seconds ttl);

  // Stops the watches no list() asked for since the previous sweep: a
  // reload that drops a target drops its watches.
  void sweep();

  // Stops every watch (shutdown); list() fails from then on.
  void stop();

  // The paths watched now, for /status and tests.
  std::set<std::string> paths() const;

 private:
  ApiClient& client_;
  WatchOptions options_;
  std::function<void()> on_change_;
  mutable std::mutex mutex_;
  bool stopped_ = false;
  std::map<std::string, std::shared_ptr<ListWatch>> watches_;
  std::set<std::string> used_;
  struct Remembered {
    HttpResponse response;
    std::chrono::steady_clock::time_point until;
  };
  std::map<std::string, Remembered> remembered_;
};

// The query of a list path with `extra` added: "PATH?a=b" + "&c=d".
std::string with_query(const std::string& path, const std::string& extra);

}  // namespace meshprobe::kube
