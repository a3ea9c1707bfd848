#include "agent/log.h"

#include <chrono>
#include <ctime>
#include <ostream>

namespace meshprobe {
namespace {

std::string_view level_name(LogLevel level) {
  switch (level) {
    case LogLevel::debug: return "debug";
    case LogLevel::info: return "info";
    case LogLevel::warn: return "warn";
    case LogLevel::error: return "error";
  }
  return "info";
}

std::string now_rfc3339() {
  const auto now = std::chrono::system_clock::now();
  const std::time_t seconds = std::chrono::system_clock::to_time_t(now);
  const auto millis =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(millis));
  return buf;
}

// Escapes for both formats: quotes, backslashes and control characters, so a
// hostile server's text can never forge a second log line.
void append_escaped(std::string& out, std::string_view text) {
  for (unsigned char c : text) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20 || c == 0x7f) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
}

bool needs_quotes(std::string_view value) {
  if (value.empty()) return true;
  for (unsigned char c : value) {
    if (c <= ' ' || c == '"' || c == '=' || c == '\\' || c == 0x7f) return true;
  }
  return false;
}

void append_logfmt(std::string& out, std::string_view key, std::string_view value) {
  if (!out.empty()) out += ' ';
  out += key;
  out += '=';
  if (needs_quotes(value)) {
    out += '"';
    append_escaped(out, value);
    out += '"';
  } else {
    out += value;
  }
}

void append_json(std::string& out, std::string_view key, std::string_view value) {
  out += out.size() > 1 ? ",\"" : "\"";
  append_escaped(out, key);
  out += "\":\"";
  append_escaped(out, value);
  out += '"';
}

}  // namespace

std::string format_log_line(LogFormat format, std::string_view timestamp, LogLevel level,
                            std::string_view event, std::initializer_list<LogField> fields) {
  std::string line;
  line.reserve(128);
  if (format == LogFormat::json) {
    line.push_back('{');
    append_json(line, "ts", timestamp);
    append_json(line, "level", level_name(level));
    append_json(line, "event", event);
    for (const auto& [key, value] : fields) append_json(line, key, value);
    line += '}';
  } else {
    append_logfmt(line, "ts", timestamp);
    append_logfmt(line, "level", level_name(level));
    append_logfmt(line, "event", event);
    for (const auto& [key, value] : fields) append_logfmt(line, key, value);
  }
  return line;
}

Logger::Logger(LogFormat format, std::ostream& out) : format_(format), out_(out) {}

void Logger::log(LogLevel level, std::string_view event, std::initializer_list<LogField> fields) {
  const std::string timestamp = now_rfc3339();
  std::lock_guard lock(mutex_);
  out_ << format_log_line(format_, timestamp, level, event, fields) << '\n' << std::flush;
}

}  // namespace meshprobe
