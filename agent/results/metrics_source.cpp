#include "agent/results/metrics_source.h"

#include <limits>
#include <utility>

namespace meshprobe {
namespace {

class TextParts final : public MetricsScrape::Parts {
 public:
  explicit TextParts(std::string text) : text_(std::move(text)) {}
  bool done() const override { return done_; }
  std::size_t size_hint() const override { return text_.size(); }
  void next(std::string& out, std::size_t) override {
    out += text_;
    done_ = true;
  }

 private:
  std::string text_;
  bool done_ = false;
};

class ConcatenatedParts final : public MetricsScrape::Parts {
 public:
  explicit ConcatenatedParts(std::vector<MetricsScrape> scrapes) : scrapes_(std::move(scrapes)) {
    skip_finished();
  }
  bool done() const override { return current_ == scrapes_.size(); }
  std::size_t size_hint() const override {
    std::size_t bytes = 0;
    for (const MetricsScrape& scrape : scrapes_) bytes += scrape.size_hint();
    return bytes;
  }
  void next(std::string& out, std::size_t budget) override {
    if (done()) return;
    scrapes_[current_].next(out, budget);
    skip_finished();
  }

 private:
  void skip_finished() {
    while (current_ < scrapes_.size() && scrapes_[current_].done()) ++current_;
  }
  std::vector<MetricsScrape> scrapes_;
  std::size_t current_ = 0;
};

}  // namespace

MetricsScrape::MetricsScrape(std::unique_ptr<Parts> parts) : parts_(std::move(parts)) {}
MetricsScrape::~MetricsScrape() = default;
MetricsScrape::MetricsScrape(MetricsScrape&&) noexcept = default;
MetricsScrape& MetricsScrape::operator=(MetricsScrape&&) noexcept = default;

MetricsScrape MetricsScrape::of_text(std::string text) {
  return MetricsScrape(std::make_unique<TextParts>(std::move(text)));
}

MetricsScrape MetricsScrape::concatenated(std::vector<MetricsScrape> scrapes) {
  return MetricsScrape(std::make_unique<ConcatenatedParts>(std::move(scrapes)));
}

bool MetricsScrape::done() const { return parts_->done(); }
std::size_t MetricsScrape::size_hint() const { return parts_->size_hint(); }
void MetricsScrape::next(std::string& out, std::size_t budget) { parts_->next(out, budget); }

std::string MetricsScrape::text() {
  std::string out;
  out.reserve(size_hint());
  while (!done()) next(out, std::numeric_limits<std::size_t>::max() / 2);
  return out;
}

}  // namespace meshprobe
