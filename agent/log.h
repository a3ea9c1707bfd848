// Structured logs: one line per event, logfmt or JSON, on stderr. Callers
// pass only bounded, non-secret fields; there is no free-form "dump".
#pragma once

#include <initializer_list>
#include <iosfwd>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>

#include "config/config.h"

namespace meshprobe {

enum class LogLevel { debug, info, warn, error };

using LogField = std::pair<std::string_view, std::string_view>;

class Logger {
 public:
  explicit Logger(LogFormat format, std::ostream& out);

  void set_format(LogFormat format) {
    std::lock_guard lock(mutex_);
    format_ = format;
  }
  void log(LogLevel level, std::string_view event, std::initializer_list<LogField> fields = {});

  void info(std::string_view event, std::initializer_list<LogField> fields = {}) {
    log(LogLevel::info, event, fields);
  }
  void warn(std::string_view event, std::initializer_list<LogField> fields = {}) {
    log(LogLevel::warn, event, fields);
  }
  void error(std::string_view event, std::initializer_list<LogField> fields = {}) {
    log(LogLevel::error, event, fields);
  }

 private:
  // Workers log too (an exec credential plugin's stderr): one whole line at
  // a time.
  std::mutex mutex_;
  LogFormat format_;
  std::ostream& out_;
};

// Formats one line without the trailing newline (exposed for tests).
std::string format_log_line(LogFormat format, std::string_view timestamp, LogLevel level,
                            std::string_view event, std::initializer_list<LogField> fields);

}  // namespace meshprobe
