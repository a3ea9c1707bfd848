// `meshprobe check`: one run of every target, a report, an exit code.
#pragma once

#include <chrono>
#include <iosfwd>
#include <string>
#include <vector>

namespace meshprobe {

enum class OutputFormat { table, json };

struct CheckOptions {
  std::vector<std::string> target_urls;  // empty: the built-in istiod set
  std::string revision;                  // for the built-in set
  std::string ca_file;
  std::string server_name;
  std::chrono::milliseconds timeout{3000};
  std::string vantage = "local";
  OutputFormat output = OutputFormat::table;
  bool color = false;
};

inline constexpr int kExitAllOk = 0;
inline constexpr int kExitSomeFailed = 1;
inline constexpr int kExitUsage = 2;

int run_check(const CheckOptions& options, std::ostream& out, std::ostream& err);

}  // namespace meshprobe
