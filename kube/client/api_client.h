// A blocking HTTPS client for the Kubernetes API on libcurl: bearer token
// (re-read when its file changes) or client certificate, the cluster's CA,
// timeouts, and retries with backoff for transient failures. Safe to call
// from several threads at once; each call blocks its thread, so the agent
// runs calls on worker threads, never on its event loop.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "kube/client/credentials.h"

namespace meshprobe::kube {

struct ApiClientOptions {
  std::chrono::milliseconds request_timeout{10000};  // per attempt
  std::chrono::milliseconds connect_timeout{5000};
  // Attempts for transient failures: no connection, 429, 500, 502, 503, 504.
  int max_attempts = 3;
  std::chrono::milliseconds initial_backoff{250};  // doubled per retry, jittered
  std::chrono::milliseconds max_backoff{4000};     // also caps Retry-After
  // A larger answer is refused rather than held in memory.
  std::size_t max_response_bytes = std::size_t{64} << 20;
  std::string user_agent = "meshprobe";
};

struct HttpResponse {
  long status = 0;  // 0: no HTTP answer at all, see `error`
  std::string body;
  std::string content_type;
  std::string error;  // why there was no answer (libcurl's words)
  bool timed_out = false;
  bool cancelled = false;
  // A streamed answer ended for silence_timeout (no byte that long).
  bool silent = false;
  // The request reached the server: a timeout after it means the server took
  // the request and did not answer in time.
  bool request_sent = false;
  // No request was made: the exec credential plugin failed (`error` says how).
  bool credential_error = false;
  int attempts = 0;
  std::chrono::nanoseconds elapsed{};  // of the last attempt, monotonic
};

struct RequestOptions {
  // false for requests whose failures are the measurement (the proxy probe).
  bool retry = true;
  std::chrono::milliseconds timeout{0};  // 0: ApiClientOptions::request_timeout
  // Set from another thread to abandon the request (checked while it runs).
  const std::atomic<bool>* cancel = nullptr;
  // Set for a streamed GET (a watch): the body of a 200 answer goes to
  // `on_line` one line at a time (a WatchEvent each) instead of `body`, on
  // the requesting thread; returning false ends the stream. Other answers
  // (a 403, a 410 Status) are kept in `body` as usual. Never retried.
  std::function<bool(std::string_view line)> on_line;
  // With on_line: no byte for this long ends the stream as timed out (a
  // watch the server left silent); 0: only `timeout` bounds it.
  std::chrono::milliseconds silence_timeout{0};
};

class ApiClient {
 public:
  explicit ApiClient(Credentials credentials, ApiClientOptions options = {});
  ~ApiClient();
  ApiClient(const ApiClient&) = delete;
  ApiClient& operator=(const ApiClient&) = delete;

  // GET server + `path_and_query` (which must start with '/').
  HttpResponse get(std::string_view path_and_query, const RequestOptions& request = {});
  // POST of a JSON body (the dry-run creates of the admission probes). Pass
  // `retry = false` where a 5xx is the answer being measured.
  HttpResponse post(std::string_view path_and_query, const std::string& json_body,
                    const RequestOptions& request = {});

  const Credentials& credentials() const;
  const ApiClientOptions& options() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace meshprobe::kube
