#include "kube/client/api_client.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <fstream>
#include <mutex>
#include <random>
#include <sstream>
#include <thread>
#include <vector>

#include "common/file_stamp.h"
#include "kube/client/detail/libcurl.h"
#include "kube/client/exec_plugin.h"

namespace meshprobe::kube {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

using detail::Libcurl;
using detail::libcurl;

std::string trimmed(std::string text) {
  const auto not_space = [](unsigned char c) { return !std::isspace(c); };
  text.erase(text.begin(), std::find_if(text.begin(), text.end(), not_space));
  text.erase(std::find_if(text.rbegin(), text.rend(), not_space).base(), text.end());
  return text;
}

bool transient(const HttpResponse& response) {
  if (response.cancelled || response.credential_error) return false;
  if (response.status == 0) return true;
  switch (response.status) {
    case 429:
    case 500:
    case 502:
    case 503:
    case 504: return true;
    default: return false;
  }
}

// What one transfer collects as it runs.
struct Transfer {
  HttpResponse* response = nullptr;
  std::size_t limit = 0;
  bool too_large = false;
  const std::atomic<bool>* cancel = nullptr;
  long retry_after_seconds = -1;
  // A streamed GET: the status line's code, the line not yet complete, the
  // time of the last byte, and whether the stream was ended for silence.
  const RequestOptions* stream = nullptr;
  long status = 0;
  std::string partial_line;
  Clock::time_point last_byte = Clock::now();
  bool silent = false;
  bool stopped = false;  // on_line returned false
};

// Hands each complete line of `data` to the stream's on_line; false when
// it asked to stop or a line outgrew the limit.
bool stream_lines(Transfer& transfer, std::string_view data) {
  while (!data.empty()) {
    const std::size_t end = data.find('\n');
    if (end == std::string_view::npos) {
      if (transfer.partial_line.size() + data.size() > transfer.limit) {
        transfer.too_large = true;
        return false;
      }
      transfer.partial_line.append(data);
      return true;
    }
    transfer.partial_line.append(data.substr(0, end));
    data.remove_prefix(end + 1);
    std::string line = std::move(transfer.partial_line);
    transfer.partial_line.clear();
    if (line.empty()) continue;
    if (!transfer.stream->on_line(line)) {
      transfer.stopped = true;
      return false;
    }
  }
  return true;
}

std::size_t on_body(char* data, std::size_t size, std::size_t count, void* user) {
  auto* transfer = static_cast<Transfer*>(user);
  const std::size_t bytes = size * count;
  transfer->last_byte = Clock::now();
  if (transfer->stream != nullptr && transfer->status == 200) {
    return stream_lines(*transfer, std::string_view(data, bytes)) ? bytes : 0;
  }
  if (transfer->response->body.size() + bytes > transfer->limit) {
    transfer->too_large = true;
    return 0;  // aborts the transfer with CURLE_WRITE_ERROR
  }
  transfer->response->body.append(data, bytes);
  return bytes;
}

bool header_is(std::string_view line, std::string_view name) {
  if (line.size() <= name.size() || line[name.size()] != ':') return false;
  for (std::size_t i = 0; i < name.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(line[i])) != name[i]) return false;
  }
  return true;
}

std::size_t on_header(char* data, std::size_t size, std::size_t count, void* user) {
  auto* transfer = static_cast<Transfer*>(user);
  const std::size_t bytes = size * count;
  const std::string_view line(data, bytes);
  const auto value = [&line](std::string_view name) {
    return trimmed(std::string(line.substr(name.size() + 1)));
  };
  transfer->last_byte = Clock::now();
  if (line.starts_with("HTTP/")) {
    // "HTTP/1.1 200 OK": a stream's body is split into lines only for a 200.
    const std::size_t space = line.find(' ');
    long code = 0;
    if (space != std::string_view::npos) {
      std::from_chars(line.data() + space + 1, line.data() + line.size(), code);
    }
    transfer->status = code;
  } else if (header_is(line, "content-type")) {
    transfer->response->content_type = value("content-type");
  } else if (header_is(line, "retry-after")) {
    const std::string seconds = value("retry-after");
    long parsed = 0;
    const auto [end, ec] = std::from_chars(seconds.data(), seconds.data() + seconds.size(), parsed);
    if (ec == std::errc{} && end == seconds.data() + seconds.size()) {
      transfer->retry_after_seconds = parsed;
    }
  }
  return bytes;
}

// libcurl calls it at least once a second, also while no byte arrives.
int on_progress(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  auto* transfer = static_cast<Transfer*>(user);
  if (transfer->cancel != nullptr && transfer->cancel->load()) return 1;
  if (transfer->stream != nullptr && transfer->stream->silence_timeout.count() > 0 &&
      Clock::now() - transfer->last_byte > transfer->stream->silence_timeout) {
    transfer->silent = true;
    return 1;
  }
  return 0;
}

// curl_slist owner.
struct HeaderList {
  const Libcurl& curl;
  curl_slist* list = nullptr;
  ~HeaderList() { curl.slist_free_all(list); }
  void add(const std::string& header) { list = curl.slist_append(list, header.c_str()); }
};

curl_blob blob_of(const std::string& text) {
  return curl_blob{const_cast<char*>(text.data()), text.size(), CURL_BLOB_COPY};
}

}  // namespace

struct ApiClient::Impl {
  Impl(Credentials c, ApiClientOptions o)
      : credentials(std::move(c)), options(std::move(o)), rng(std::random_device{}()) {
    if (credentials.exec) exec = std::make_unique<ExecAuthenticator>(*credentials.exec);
  }

  ~Impl() {
    for (CURL* handle : idle) curl.easy_cleanup(handle);
  }

  // Handles are reused so connections (and TLS sessions) to the API server
  // stay open between calls; each is used by one thread at a time.
  CURL* take_handle() {
    {
      std::lock_guard lock(handles_mutex);
      if (!idle.empty()) {
        CURL* handle = idle.back();
        idle.pop_back();
        return handle;
      }
    }
    return curl.easy_init();
  }

  void return_handle(CURL* handle) {
    std::lock_guard lock(handles_mutex);
    idle.push_back(handle);
  }

  std::string bearer_token(bool force_reread) {
    if (credentials.token_file.empty()) return credentials.token;
    std::lock_guard lock(token_mutex);
    const FileStamp stamp = stamp_of(credentials.token_file);
    if (force_reread || stamp != token_stamp || token.empty()) {
      std::ifstream in(credentials.token_file, std::ios::binary);
      std::ostringstream text;
      text << in.rdbuf();
      if (in) {
        token = trimmed(text.str());
        token_stamp = stamp;
      }
    }
    return token;
  }

  struct Outcome {
    HttpResponse response;
    long retry_after_seconds = -1;      // the server's Retry-After, -1 when none
    std::uint64_t exec_generation = 0;  // the exec plugin's credential sent, 0: none
  };

  // GET, or POST of `post_body` (JSON) when it is not null.
  Outcome perform(std::string_view path, const RequestOptions& request, bool reread_token,
                  std::uint64_t rejected_exec, const std::string* post_body) {
    Outcome outcome;
    HttpResponse& response = outcome.response;
    // The exec plugin runs here, on the request's (worker) thread.
    std::shared_ptr<const ExecCredential> exec_credential;
    if (exec) {
      auto got = exec->credential(rejected_exec);
      if (!got) {
        response.error = got.error().message;
        response.credential_error = true;
        return outcome;
      }
      exec_credential = std::move(*got);
      outcome.exec_generation = exec_credential->generation;
    }
    const std::string& client_cert_pem =
        exec_credential ? exec_credential->client_cert_pem : credentials.client_cert_pem;
    const std::string& client_key_pem =
        exec_credential ? exec_credential->client_key_pem : credentials.client_key_pem;
    Transfer transfer;
    transfer.response = &response;
    transfer.limit = options.max_response_bytes;
    transfer.cancel = request.cancel;
    if (request.on_line) transfer.stream = &request;
    CURL* handle = take_handle();
    if (handle == nullptr) {
      response.error = "cannot create a libcurl handle (out of memory?)";
      return outcome;
    }
    curl.easy_reset(handle);  // keeps the connection cache

    const std::string url = credentials.server + std::string(path);
    const milliseconds timeout =
        request.timeout.count() > 0 ? request.timeout : options.request_timeout;
    HeaderList headers{curl};
    headers.add("Accept: application/json, */*");
    const std::string bearer =
        exec_credential ? exec_credential->token : bearer_token(reread_token);
    if (!bearer.empty()) headers.add("Authorization: Bearer " + bearer);

    curl.easy_setopt(handle, CURLOPT_URL, url.c_str());
    if (post_body != nullptr) {
      headers.add("Content-Type: application/json");
      curl.easy_setopt(handle, CURLOPT_POSTFIELDS, post_body->data());
      curl.easy_setopt(handle, CURLOPT_POSTFIELDSIZE_LARGE,
                       static_cast<curl_off_t>(post_body->size()));
    } else {
      curl.easy_setopt(handle, CURLOPT_HTTPGET, 1L);
    }
    curl.easy_setopt(handle, CURLOPT_HTTPHEADER, headers.list);
    curl.easy_setopt(handle, CURLOPT_USERAGENT, options.user_agent.c_str());
    curl.easy_setopt(handle, CURLOPT_PROTOCOLS_STR, "https,http");
    curl.easy_setopt(handle, CURLOPT_FOLLOWLOCATION, 0L);
    curl.easy_setopt(handle, CURLOPT_ACCEPT_ENCODING, "");  // lists compress well
    // Threads: no signals for DNS timeouts.
    curl.easy_setopt(handle, CURLOPT_NOSIGNAL, 1L);
    curl.easy_setopt(handle, CURLOPT_TIMEOUT_MS, static_cast<long>(timeout.count()));
    curl.easy_setopt(handle, CURLOPT_CONNECTTIMEOUT_MS,
                     static_cast<long>(std::min(timeout, options.connect_timeout).count()));
    curl.easy_setopt(handle, CURLOPT_TCP_KEEPALIVE, 1L);
    curl.easy_setopt(handle, CURLOPT_WRITEFUNCTION, on_body);
    curl.easy_setopt(handle, CURLOPT_WRITEDATA, &transfer);
    curl.easy_setopt(handle, CURLOPT_HEADERFUNCTION, on_header);
    curl.easy_setopt(handle, CURLOPT_HEADERDATA, &transfer);
    curl.easy_setopt(handle, CURLOPT_NOPROGRESS, 0L);
    curl.easy_setopt(handle, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl.easy_setopt(handle, CURLOPT_XFERINFODATA, &transfer);
    if (!credentials.proxy_url.empty()) {
      curl.easy_setopt(handle, CURLOPT_PROXY, credentials.proxy_url.c_str());
    }

    if (credentials.insecure_skip_tls_verify) {
      curl.easy_setopt(handle, CURLOPT_SSL_VERIFYPEER, 0L);
      curl.easy_setopt(handle, CURLOPT_SSL_VERIFYHOST, 0L);
    } else if (!credentials.ca_pem.empty()) {
      // The cluster CA alone: not the system store next to it.
      curl_blob ca = blob_of(credentials.ca_pem);
      curl.easy_setopt(handle, CURLOPT_CAINFO_BLOB, &ca);
      curl.easy_setopt(handle, CURLOPT_CAPATH, nullptr);
    }
    if (!client_cert_pem.empty()) {
      curl_blob cert = blob_of(client_cert_pem);
      curl_blob key = blob_of(client_key_pem);
      curl.easy_setopt(handle, CURLOPT_SSLCERT_BLOB, &cert);
      curl.easy_setopt(handle, CURLOPT_SSLCERTTYPE, "PEM");
      curl.easy_setopt(handle, CURLOPT_SSLKEY_BLOB, &key);
      curl.easy_setopt(handle, CURLOPT_SSLKEYTYPE, "PEM");
    }

    char error_buffer[CURL_ERROR_SIZE] = {};
    curl.easy_setopt(handle, CURLOPT_ERRORBUFFER, error_buffer);
    const auto started = Clock::now();
    const CURLcode result = curl.easy_perform(handle);
    response.elapsed = Clock::now() - started;
    curl.easy_setopt(handle, CURLOPT_ERRORBUFFER, nullptr);

    // Not the connect times: a reused connection reports them as 0.
    long request_bytes = 0;
    curl.easy_getinfo(handle, CURLINFO_REQUEST_SIZE, &request_bytes);
    response.request_sent = request_bytes > 0;
    if (result == CURLE_OK || (transfer.stopped && result == CURLE_WRITE_ERROR)) {
      // A stream its reader stopped is an answer like one that ended.
      curl.easy_getinfo(handle, CURLINFO_RESPONSE_CODE, &response.status);
      if (transfer.stream != nullptr && response.status == 200 && !transfer.stopped &&
          !transfer.partial_line.empty()) {
        transfer.stream->on_line(transfer.partial_line);  // the last line had no newline
      }
    } else if (transfer.silent) {
      response.status = 0;
      response.timed_out = true;
      response.silent = true;
      response.error = "no data for " + std::to_string(request.silence_timeout.count()) + " ms";
    } else {
      response.status = 0;
      response.body.clear();
      response.timed_out = result == CURLE_OPERATION_TIMEDOUT;
      response.cancelled = result == CURLE_ABORTED_BY_CALLBACK;
      if (transfer.too_large) {
        response.error =
            "the response is larger than " + std::to_string(options.max_response_bytes) + " bytes";
      } else if (response.cancelled) {
        response.error = "cancelled";
      } else {
        response.error = error_buffer[0] != '\0' ? error_buffer : curl.easy_strerror(result);
      }
    }
    outcome.retry_after_seconds = transfer.retry_after_seconds;
    return_handle(handle);
    return outcome;
  }

  HttpResponse send(std::string_view path_and_query, const RequestOptions& request,
                    const std::string* post_body) {
    // A stream is never sent twice: its lines were already handed out.
    const int attempts = request.retry && !request.on_line ? std::max(1, options.max_attempts) : 1;
    bool reread_token = false;
    Outcome outcome;
    for (int attempt = 1;; ++attempt) {
      outcome = perform(path_and_query, request, reread_token, 0, post_body);
      // A rotated token can be rejected in the moment before its file changes
      // on disk: read it again and retry once, whatever `retry` says. An exec
      // plugin's credential rejected so is renewed (the plugin runs again).
      // A 401 was refused before any admission ran, so a POST is safe to
      // send again.
      const bool renewable = !credentials.token_file.empty() || exec;
      if (outcome.response.status == 401 && renewable && !reread_token) {
        reread_token = true;
        outcome = perform(path_and_query, request, true, outcome.exec_generation, post_body);
      }
      outcome.response.attempts = attempt;
      if (attempt >= attempts || !transient(outcome.response)) break;
      if (!sleep_unless_cancelled(backoff_for(attempt, outcome.retry_after_seconds),
                                  request.cancel)) {
        outcome.response.cancelled = true;
        break;
      }
    }
    return std::move(outcome.response);
  }

  milliseconds backoff_for(int attempt, long retry_after_seconds) {
    if (retry_after_seconds >= 0) {
      return std::min<milliseconds>(std::chrono::seconds(retry_after_seconds), options.max_backoff);
    }
    const milliseconds base = std::min<milliseconds>(
        options.initial_backoff * (1LL << std::min(attempt - 1, 10)), options.max_backoff);
    // Full jitter halves: many agents retrying after one API server hiccup
    // must not come back in step.
    std::uniform_int_distribution<long long> spread(base.count() / 2, base.count());
    std::lock_guard lock(rng_mutex);
    return milliseconds(spread(rng));
  }

  static bool sleep_unless_cancelled(milliseconds pause, const std::atomic<bool>* cancel) {
    const auto until = Clock::now() + pause;
    while (Clock::now() < until) {
      if (cancel != nullptr && cancel->load()) return false;
      std::this_thread::sleep_for(
          std::min<Clock::duration>(milliseconds(50), until - Clock::now()));
    }
    return true;
  }

  const Libcurl& curl = libcurl();  // first: loads libcurl, or throws
  Credentials credentials;
  ApiClientOptions options;
  std::mutex handles_mutex;
  std::vector<CURL*> idle;
  std::mutex token_mutex;
  std::string token;
  FileStamp token_stamp;
  std::mutex rng_mutex;
  std::mt19937_64 rng;
  std::unique_ptr<ExecAuthenticator> exec;
};

ApiClient::ApiClient(Credentials credentials, ApiClientOptions options) {
  impl_ = std::make_unique<Impl>(std::move(credentials), std::move(options));
}

ApiClient::~ApiClient() = default;

HttpResponse ApiClient::get(std::string_view path_and_query, const RequestOptions& request) {
  return impl_->send(path_and_query, request, nullptr);
}

HttpResponse ApiClient::post(std::string_view path_and_query, const std::string& json_body,
                             const RequestOptions& request) {
  return impl_->send(path_and_query, request, &json_body);
}

const Credentials& ApiClient::credentials() const { return impl_->credentials; }
const ApiClientOptions& ApiClient::options() const { return impl_->options; }

}  // namespace meshprobe::kube
