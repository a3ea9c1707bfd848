#include "agent/results/watch_report.h"

#include <boost/json.hpp>
#include <fmt/format.h>

#include <algorithm>

#include "agent/results/check_report.h"
#include "agent/results/format.h"
#include "config/duration.h"

namespace meshprobe {
namespace {

namespace json = boost::json;

// Adds `code` to a "+"-joined list unless it is there already.
void add_code(std::string& codes, std::string_view code) {
  std::size_t start = 0;
  while (start <= codes.size() && !codes.empty()) {
    const std::size_t end = std::min(codes.find('+', start), codes.size());
    if (std::string_view(codes).substr(start, end - start) == code) return;
    start = end + 1;
  }
  if (!codes.empty()) codes += '+';
  codes += code;
}

std::string hygiene_state(const HygieneReport& hygiene) {
  std::string codes;
  for (const kube::Finding& finding : hygiene.findings) add_code(codes, finding.code);
  if (!hygiene.incomplete_checks.empty() || !hygiene.error.empty()) add_code(codes, "incomplete");
  return codes.empty() ? "ok" : codes;
}

const WatchedTarget* find_state(const std::vector<WatchedTarget>& states, std::string_view name) {
  auto it = std::find_if(states.begin(), states.end(),
                         [name](const WatchedTarget& s) { return s.name == name; });
  return it == states.end() ? nullptr : &*it;
}

}  // namespace

std::vector<WatchedTarget> target_states(const std::vector<ProbeResult>& results,
                                         const HygieneReport* hygiene) {
  std::vector<WatchedTarget> states;
  // Codes of the failing addresses per target; "" while every one passed.
  std::vector<std::string> failures;
  for (const ProbeResult& result : results) {
    auto it = std::find_if(states.begin(), states.end(),
                           [&result](const WatchedTarget& s) { return s.name == result.target; });
    std::size_t index = static_cast<std::size_t>(it - states.begin());
    if (it == states.end()) {
      states.push_back(WatchedTarget{result.target, ""});
      failures.emplace_back();
    }
    if (!result.success) add_code(failures[index], code(result.diagnosis));
  }
  for (std::size_t i = 0; i < states.size(); ++i) {
    states[i].state = failures[i].empty() ? "ok" : failures[i];
  }
  if (hygiene != nullptr && hygiene->ran) {
    states.push_back(WatchedTarget{std::string(kHygieneStateName), hygiene_state(*hygiene)});
  }
  return states;
}

std::vector<StateChange> state_changes(const std::vector<WatchedTarget>& before,
                                       const std::vector<WatchedTarget>& after) {
  std::vector<StateChange> changes;
  for (const WatchedTarget& now : after) {
    const WatchedTarget* then = find_state(before, now.name);
    if (then == nullptr) {
      changes.push_back(StateChange{now.name, "", now.state});
    } else if (then->state != now.state) {
      changes.push_back(StateChange{now.name, then->state, now.state});
    }
  }
  for (const WatchedTarget& then : before) {
    if (find_state(after, then.name) == nullptr) {
      changes.push_back(StateChange{then.name, then.state, ""});
    }
  }
  return changes;
}

std::string change_line(WallClock::time_point time, const StateChange& change) {
  return fmt::format("{} {} {} -> {}\n", rfc3339(time), change.name,
                     change.before.empty() ? "new" : change.before,
                     change.after.empty() ? "gone" : change.after);
}

std::string frame_header(std::chrono::milliseconds interval, int round,
                         WallClock::time_point time) {
  // rfc3339's "HH:MM:SS" (UTC), so the header and the change lines agree.
  const std::string clock = rfc3339(time).substr(11, 8);
  return fmt::format("every {} \u00b7 round {} \u00b7 {}\n", format_duration(interval), round,
                     clock);
}

std::string round_ndjson(int round, WallClock::time_point time,
                         const std::vector<ProbeResult>& results, std::string_view vantage,
                         const HygieneReport* hygiene) {
  json::object line{{"round", round}, {"time", rfc3339(time)}};
  for (auto& [key, value] : check_json(results, vantage, hygiene)) {
    line[key] = std::move(value);
  }
  return json::serialize(line) + '\n';
}

std::size_t terminal_rows(std::string_view text, std::size_t columns) {
  std::size_t rows = 0;
  std::size_t width = 0;  // of the line so far
  auto end_line = [&] {
    rows += columns == 0 || width == 0 ? 1 : (width + columns - 1) / columns;
    width = 0;
  };
  for (std::size_t i = 0; i < text.size(); ++i) {
    const auto byte = static_cast<unsigned char>(text[i]);
    if (byte == '\n') {
      end_line();
    } else if (byte == '\x1b' && i + 1 < text.size() && text[i + 1] == '[') {
      // CSI: parameters and intermediates up to the final byte (@ to ~).
      i += 2;
      while (i < text.size() && (text[i] < '@' || text[i] > '~')) ++i;
    } else if ((byte & 0xC0) != 0x80) {  // not a UTF-8 continuation byte
      ++width;
    }
  }
  if (width > 0) end_line();
  return rows;
}

std::string erase_rows(std::size_t rows) {
  if (rows == 0) return "";
  return fmt::format("\r\x1b[{}A\x1b[J", rows);
}

}  // namespace meshprobe
