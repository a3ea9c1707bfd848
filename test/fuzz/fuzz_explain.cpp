// `meshprobe explain`'s matcher on whatever a user pastes or pipes in: no
// crash, and no row without a check to run.
#include <cstddef>
#include <cstdint>
#include <sstream>
#include <string_view>

#include "agent/explain.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const meshprobe::Explanation explanation =
      meshprobe::explain(std::string_view(reinterpret_cast<const char*>(data), size));
  if (!explanation.matches.empty() && !explanation.closest.empty()) __builtin_trap();
  for (const meshprobe::ExplainMatch& match : explanation.matches) {
    if (match.check_commands.empty()) __builtin_trap();
    for (const std::string& command : match.check_commands) {
      if (!command.starts_with("meshprobe check ")) __builtin_trap();
    }
  }
  std::ostringstream out;
  const int table = meshprobe::print_explanation(explanation, meshprobe::OutputFormat::table, out);
  const int json = meshprobe::print_explanation(explanation, meshprobe::OutputFormat::json, out);
  if (table != json || table != (explanation.matches.empty() ? 1 : 0)) __builtin_trap();
  return 0;
}
