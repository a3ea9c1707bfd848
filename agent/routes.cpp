#include "agent/routes.h"

#include <memory>

namespace meshprobe {
namespace {

// A /metrics part: large enough that writing it costs one system call,
// small enough that probe completions wait at most about a tenth of a
// millisecond behind the scrape.
constexpr std::size_t kMetricsPartBytes = 64 * 1024;

constexpr const char* kPlainText = "text/plain; charset=utf-8";

}  // namespace

HttpResponse Routes::operator()(const HttpRequest& request) const {
  if (request.path == "/metrics") return metrics();
  if (request.path == "/status") {
    return {200, "application/json",
            render_status_json(store_, identity_, kube_, current_verdicts())};
  }
  if (request.path == "/") {
    return {200, "text/html; charset=utf-8",
            render_status_html(store_, identity_, kube_, current_verdicts())};
  }
  // /-/healthy and /-/ready: the Prometheus ecosystem's names for the same.
  if (request.path == "/healthz" || request.path == "/-/healthy") {
    return {200, kPlainText, "ok\n"};
  }
  if (request.path == "/readyz" || request.path == "/-/ready") {
    return store_.first_round_complete()
               ? HttpResponse{200, kPlainText, "ready\n"}
               : HttpResponse{503, kPlainText, "waiting for the first round of probes\n"};
  }
  if (request.path == "/-/reload") return reload(request);
  return {404, kPlainText, "not found\n"};
}

std::vector<kube::WebhookVerdict> Routes::current_verdicts() const {
  return verdicts_ != nullptr ? verdicts_->current() : std::vector<kube::WebhookVerdict>();
}

// As Prometheus and its exporters answer it: POST only, refused unless the
// lifecycle API is on, and answered once the reload has succeeded or failed.
HttpResponse Routes::reload(const HttpRequest& request) const {
  if (request.method != "POST") return {405, kPlainText, "Only POST requests allowed\n"};
  if (!reload_) return {403, kPlainText, "Lifecycle API is not enabled.\n"};
  const std::string error = reload_();
  if (!error.empty()) {
    return {500, kPlainText, "failed to reload config: " + error + "; keeping the last good one\n"};
  }
  return {200, kPlainText, "config reloaded\n"};
}

// Streamed: 10,000 targets make megabytes, sent while they are written
// (part by part, each source scraped once when the request comes) instead of
// after.
HttpResponse Routes::metrics() const {
  std::vector<MetricsScrape> scrapes;
  scrapes.reserve(metrics_.size());
  for (const MetricsSource* source : metrics_) scrapes.push_back(source->scrape());
  HttpResponse response{200, "text/plain; version=0.0.4; charset=utf-8", {}};
  response.stream = [scrape = std::make_shared<MetricsScrape>(
                         MetricsScrape::concatenated(std::move(scrapes)))](std::string& out) {
    scrape->next(out, kMetricsPartBytes);
    return !scrape->done();
  };
  return response;
}

}  // namespace meshprobe
