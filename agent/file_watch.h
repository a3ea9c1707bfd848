// Watches the files a config depends on (itself, CA bundles, the web config
// and its TLS files) by polling their stamps, so a ConfigMap's symlink swap
// or a rotated certificate is noticed without inotify (which misses both
// through the kubelet's atomic writer).
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/file_stamp.h"

namespace boost::asio {
class io_context;
}

namespace meshprobe {

class FileWatch {
 public:
  // `changed` runs on `io` with the first file found changed in a round.
  FileWatch(boost::asio::io_context& io, std::chrono::milliseconds interval,
            std::function<void(const std::string& file)> changed);
  ~FileWatch();
  FileWatch(const FileWatch&) = delete;
  FileWatch& operator=(const FileWatch&) = delete;

  // Takes the files' stamps as they are now: later changes are what counts.
  void remember(const std::vector<std::string>& files);
  // Checks every interval until stop().
  void start();
  void stop();

 private:
  void check_later();

  struct Timer;
  std::unique_ptr<Timer> timer_;
  std::chrono::milliseconds interval_;
  std::function<void(const std::string&)> changed_;
  std::map<std::string, FileStamp> stamps_;
  bool stopped_ = false;
};

}  // namespace meshprobe
