// What /metrics is made of: sources of series (the probe series of the
// results store, Kubernetes mode's series), each scraped in turn. A scrape
// takes what it needs of its source at once and then produces its text in
// parts, so a large exposition goes out while it is being written and the
// event loop records results in between.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

namespace meshprobe {

// One scrape in progress. Move-only.
class MetricsScrape {
 public:
  // What a source's scrape is made of.
  class Parts {
   public:
    virtual ~Parts() = default;
    virtual bool done() const = 0;
    // Of the whole text, for a caller that keeps it.
    virtual std::size_t size_hint() const = 0;
    // Appends about `budget` more bytes (a line may run over).
    virtual void next(std::string& out, std::size_t budget) = 0;
  };

  explicit MetricsScrape(std::unique_ptr<Parts> parts);
  // Text that is ready already: one part.
  static MetricsScrape of_text(std::string text);
  // Each scrape in turn, in order.
  static MetricsScrape concatenated(std::vector<MetricsScrape> scrapes);
  ~MetricsScrape();
  MetricsScrape(MetricsScrape&&) noexcept;
  MetricsScrape& operator=(MetricsScrape&&) noexcept;

  bool done() const;
  std::size_t size_hint() const;
  void next(std::string& out, std::size_t budget);
  // The rest of the text at once.
  std::string text();

 private:
  std::unique_ptr<Parts> parts_;
};

// A contributor of series to /metrics.
class MetricsSource {
 public:
  virtual ~MetricsSource() = default;
  virtual MetricsScrape scrape() const = 0;
};

}  // namespace meshprobe
