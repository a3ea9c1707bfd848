#include "agent/file_watch.h"

#include <boost/asio/steady_timer.hpp>

namespace meshprobe {

struct FileWatch::Timer {
  explicit Timer(boost::asio::io_context& io) : timer(io) {}
  boost::asio::steady_timer timer;
};

FileWatch::FileWatch(boost::asio::io_context& io, std::chrono::milliseconds interval,
                     std::function<void(const std::string&)> changed)
    : timer_(std::make_unique<Timer>(io)), interval_(interval), changed_(std::move(changed)) {}

FileWatch::~FileWatch() = default;

void FileWatch::remember(const std::vector<std::string>& files) {
  stamps_.clear();
  for (const std::string& file : files) stamps_[file] = stamp_of(file);
}

void FileWatch::start() { check_later(); }

void FileWatch::stop() {
  stopped_ = true;
  timer_->timer.cancel();
}

void FileWatch::check_later() {
  timer_->timer.expires_after(interval_);
  timer_->timer.async_wait([this](boost::system::error_code ec) {
    if (ec || stopped_) return;
    for (const auto& [file, stamp] : stamps_) {
      if (stamp_of(file) != stamp) {
        const std::string changed = file;  // changed_ may remember() anew
        changed_(changed);
        break;
      }
    }
    check_later();
  });
}

}  // namespace meshprobe
