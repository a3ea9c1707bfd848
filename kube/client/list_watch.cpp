#include "kube/client/list_watch.h"

#include <boost/json.hpp>

#include <atomic>
#include <condition_variable>
#include <optional>
#include <random>
#include <thread>

#include "kube/client/objects.h"
#include "kube/client/reads.h"

namespace meshprobe::kube {

namespace json = boost::json;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

std::string with_query(const std::string& path, const std::string& extra) {
  return path + (path.find('?') == std::string::npos ? '?' : '&') + extra;
}

namespace {

// metadata.namespace/metadata.name: the key of an object in its list.
std::string object_key(const json::object& object) {
  const json::value* meta = object.if_contains("metadata");
  if (meta == nullptr || !meta->is_object()) return {};
  const auto text = [&meta](std::string_view key) -> std::string {
    const json::value* v = meta->as_object().if_contains(key);
    return v != nullptr && v->is_string() ? std::string(v->as_string()) : std::string();
  };
  return text("namespace") + "/" + text("name");
}

std::string resource_version(const json::object& object) {
  const json::value* meta = object.if_contains("metadata");
  if (meta == nullptr || !meta->is_object()) return {};
  const json::value* v = meta->as_object().if_contains("resourceVersion");
  return v != nullptr && v->is_string() ? std::string(v->as_string()) : std::string();
}

std::optional<json::object> parse_object(std::string_view text) {
  boost::system::error_code ec;
  json::value value = json::parse(text, ec);
  if (ec || !value.is_object()) return std::nullopt;
  return std::move(value.as_object());
}

}  // namespace

// One path's list and watch, on a thread of its own.
class ListWatch {
 public:
  ListWatch(ApiClient& client, std::string path, const WatchOptions& options,
            std::function<void()> on_change)
      : client_(client),
        path_(std::move(path)),
        options_(options),
        on_change_(std::move(on_change)),
        rng_(std::random_device{}()) {
    thread_ = std::thread([this] { run(); });
  }

  ~ListWatch() { stop(); }

  void stop() {
    cancel();
    {
      std::lock_guard lock(mutex_);
      stop_ = true;
    }
    wake_.notify_all();
    if (thread_.joinable()) thread_.join();
  }

  CachedList current() {
    std::unique_lock lock(mutex_);
    wake_.wait_for(lock, options_.sync_timeout,
                   [this] { return stop_ || synced_ || failure_.has_value(); });
    CachedList out;
    // A list that failed after the objects were known (RBAC revoked, the API
    // server gone) is reported, not hidden behind what it knew before.
    if (!synced_ || failure_) {
      if (failure_) {
        out.failure = *failure_;
      } else {
        out.failure.error = stop_ ? "cancelled" : "the first list of " + path_ + " did not finish";
        out.failure.cancelled = stop_;
        out.failure.timed_out = !stop_;
      }
      return out;
    }
    json::array items;
    items.reserve(objects_.size());
    for (const auto& [key, object] : objects_) items.push_back(object);
    json::object list{{"kind", list_kind_},
                      {"apiVersion", api_version_},
                      {"metadata", json::object{{"resourceVersion", version_}}},
                      {"items", std::move(items)}};
    out.ok = true;
    out.body = json::serialize(list);
    return out;
  }

 private:
  bool stopping() {
    std::lock_guard lock(mutex_);
    return stop_;
  }

  // Waits `pause` unless stopped first; false when stopped.
  bool pause_for(milliseconds pause) {
    std::unique_lock lock(mutex_);
    return !wake_.wait_for(lock, pause, [this] { return stop_; });
  }

  milliseconds next_backoff() {
    const milliseconds base = backoff_;
    backoff_ = std::min(backoff_ * 2, options_.max_backoff);
    std::uniform_int_distribution<long long> spread(base.count() / 2, base.count());
    return milliseconds(spread(rng_));
  }

  RequestOptions request() {
    RequestOptions options;
    options.cancel = &cancel_;
    options.retry = false;  // the loop backs off itself
    return options;
  }

  // A paged list; true when it replaced the objects (and said whether
  // they changed).
  bool list_all(bool& changed) {
    std::map<std::string, json::object> listed;
    std::string continue_token, kind, api_version, version;
    for (;;) {
      std::string page_path = with_query(path_, "limit=" + std::to_string(options_.page_size));
      if (!continue_token.empty()) page_path += "&continue=" + url_encode(continue_token);
      HttpResponse response = client_.get(page_path, request());
      if (response.status == 410 && !continue_token.empty()) {
        // The continue token expired: start the list over.
        listed.clear();
        continue_token.clear();
        continue;
      }
      std::optional<json::object> page;
      if (response.status == 200) page = parse_object(response.body);
      if (!page) {
        if (response.status == 200) {
          response.status = 0;
          response.error = "the list of " + path_ + " is not JSON";
        }
        bool newly_failing = false;
        {
          std::lock_guard lock(mutex_);
          newly_failing = synced_ && !failure_.has_value();
          failure_ = std::move(response);
          wake_.notify_all();
        }
        // Readers of objects known before learn that they are no longer.
        if (newly_failing && on_change_) on_change_();
        return false;
      }
      if (const json::value* k = page->if_contains("kind"); k != nullptr && k->is_string()) {
        kind = k->as_string();
      }
      if (const json::value* a = page->if_contains("apiVersion"); a != nullptr && a->is_string()) {
        api_version = a->as_string();
      }
      version = resource_version(*page);
      continue_token.clear();
      if (const json::value* meta = page->if_contains("metadata"); meta && meta->is_object()) {
        if (const json::value* c = meta->as_object().if_contains("continue"); c && c->is_string()) {
          continue_token = c->as_string();
        }
      }
      if (json::value* items = page->if_contains("items"); items && items->is_array()) {
        for (json::value& item : items->as_array()) {
          if (item.is_object()) {
            std::string key = object_key(item.as_object());
            listed.emplace(std::move(key), std::move(item.as_object()));
          }
        }
      }
      if (continue_token.empty()) break;
    }
    std::lock_guard lock(mutex_);
    changed = synced_ && (listed != objects_ || failure_.has_value());
    objects_ = std::move(listed);
    list_kind_ = std::move(kind);
    api_version_ = std::move(api_version);
    version_ = std::move(version);
    synced_ = true;
    failure_.reset();
    wake_.notify_all();
    return true;
  }

  enum class WatchEnd { ended, relist, failed };

  // One watch from version_: until the server ends it, it fails, or stop.
  WatchEnd watch_once() {
    std::uniform_int_distribution<long long> spread(options_.min_watch_timeout.count(),
                                                    2 * options_.min_watch_timeout.count() - 1);
    const long long timeout_seconds = spread(rng_);
    std::string from;
    {
      std::lock_guard lock(mutex_);
      from = version_;
    }
    const std::string watch_path = with_query(
        path_, "watch=true&allowWatchBookmarks=true&resourceVersion=" + url_encode(from) +
                   "&timeoutSeconds=" + std::to_string(timeout_seconds));
    bool gone = false;     // an ERROR event: 410 Expired
    bool errored = false;  // another ERROR event
    bool healthy = false;  // an event arrived: the stream worked
    RequestOptions options = request();
    // The server ends the stream at timeoutSeconds; past that (and a
    // margin), it is gone without a word.
    options.timeout = std::chrono::seconds(timeout_seconds + 30);
    options.silence_timeout = options_.silence_timeout;
    options.on_line = [&](std::string_view line) {
      auto event = parse_object(line);
      if (!event) return true;  // not an event: skip it
      const json::value* type = event->if_contains("type");
      json::value* object = event->if_contains("object");
      if (type == nullptr || !type->is_string() || object == nullptr || !object->is_object()) {
        return true;
      }
      const std::string_view kind = type->as_string();
      json::object& item = object->as_object();
      if (kind == "ERROR") {
        const json::value* code = item.if_contains("code");
        if (code != nullptr && code->is_int64() && code->as_int64() == 410) {
          gone = true;
        } else {
          errored = true;
        }
        return false;
      }
      healthy = true;
      const std::string version = resource_version(item);
      bool changed = false;
      {
        std::lock_guard lock(mutex_);
        if (!version.empty()) version_ = version;
        if (kind == "ADDED" || kind == "MODIFIED") {
          std::string key = object_key(item);
          auto [at, added] = objects_.try_emplace(std::move(key), item);
          if (!added && at->second != item) at->second = std::move(item);
          changed = true;
        } else if (kind == "DELETED") {
          changed = objects_.erase(object_key(item)) > 0;
        }
      }
      if (changed && on_change_) on_change_();
      return true;
    };
    const HttpResponse response = client_.get(watch_path, options);
    if (healthy) backoff_ = options_.initial_backoff;
    if (gone || response.status == 410) return WatchEnd::relist;
    if (errored) return WatchEnd::failed;
    if (response.status == 200) return WatchEnd::ended;
    // A transport failure (dropped, silent): the version still resumes. An
    // HTTP error (403 on watch, 5xx): list again after the backoff, so the
    // objects stay current even where watching is refused.
    return response.status == 0 ? WatchEnd::failed : WatchEnd::relist;
  }

  void run() {
    bool need_list = true;
    while (!stopping()) {
      if (need_list) {
        bool changed = false;
        if (!list_all(changed)) {
          if (!pause_for(next_backoff())) return;
          continue;
        }
        need_list = false;
        if (changed && on_change_) on_change_();
      }
      switch (watch_once()) {
        case WatchEnd::ended: break;  // re-open from the version at once
        case WatchEnd::relist:
          need_list = true;
          if (!pause_for(next_backoff())) return;
          break;
        case WatchEnd::failed:
          if (!pause_for(next_backoff())) return;
          break;
      }
    }
  }

 public:
  void cancel() { cancel_ = true; }

 private:
  ApiClient& client_;
  const std::string path_;
  const WatchOptions options_;
  std::function<void()> on_change_;
  std::mt19937_64 rng_;
  milliseconds backoff_ = options_.initial_backoff;
  std::atomic<bool> cancel_{false};

  std::mutex mutex_;
  std::condition_variable wake_;
  bool stop_ = false;
  bool synced_ = false;
  // The last list's failure, until a list succeeds.
  std::optional<HttpResponse> failure_;
  std::map<std::string, json::object> objects_;
  std::string list_kind_, api_version_, version_;

  std::thread thread_;  // last: started once everything above exists
};

WatchCache::WatchCache(ApiClient& client, WatchOptions options, std::function<void()> on_change)
    : client_(client), options_(options), on_change_(std::move(on_change)) {}

WatchCache::~WatchCache() { stop(); }

CachedList WatchCache::list(const std::string& path) {
  std::shared_ptr<ListWatch> watch;
  {
    std::lock_guard lock(mutex_);
    if (stopped_) {
      CachedList out;
      out.failure.error = "cancelled";
      out.failure.cancelled = true;
      return out;
    }
    used_.insert(path);
    auto& slot = watches_[path];
    if (!slot) slot = std::make_shared<ListWatch>(client_, path, options_, on_change_);
    watch = slot;
  }
  return watch->current();
}

HttpResponse WatchCache::remembered_get(const std::string& path, std::chrono::seconds ttl) {
  {
    std::lock_guard lock(mutex_);
    if (auto found = remembered_.find(path);
        found != remembered_.end() && Clock::now() < found->second.until) {
      return found->second.response;
    }
  }
  RequestOptions request;
  HttpResponse response = client_.get(path, request);
  if (response.status == 200) {
    std::lock_guard lock(mutex_);
    remembered_[path] = Remembered{response, Clock::now() + ttl};
  }
  return response;
}

void WatchCache::sweep() {
  std::vector<std::shared_ptr<ListWatch>> unused;
  {
    std::lock_guard lock(mutex_);
    for (auto it = watches_.begin(); it != watches_.end();) {
      if (used_.contains(it->first)) {
        ++it;
      } else {
        unused.push_back(std::move(it->second));
        it = watches_.erase(it);
      }
    }
    used_.clear();
  }
  for (auto& watch : unused) {
    watch->cancel();
    watch->stop();
  }
}

void WatchCache::stop() {
  std::map<std::string, std::shared_ptr<ListWatch>> all;
  {
    std::lock_guard lock(mutex_);
    stopped_ = true;
    all.swap(watches_);
  }
  for (auto& [path, watch] : all) watch->cancel();
  for (auto& [path, watch] : all) watch->stop();
}

std::set<std::string> WatchCache::paths() const {
  std::lock_guard lock(mutex_);
  std::set<std::string> out;
  for (const auto& [path, watch] : watches_) out.insert(path);
  return out;
}

}  // namespace meshprobe::kube
