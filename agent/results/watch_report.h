// What `meshprobe check --watch` prints besides check's own table: the
// state of each target from round to round, the line a change makes, the
// header over each redrawn frame, the NDJSON line of a round, and the
// terminal arithmetic of redrawing a frame in place. Pure text, no I/O.
#pragma once

#include <chrono>
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "kube/hygiene_report.h"
#include "probes/result.h"

namespace meshprobe {

// The name the hygiene checks go by among the targets' states: brackets,
// so that no target URL or config name can take it.
inline constexpr std::string_view kHygieneStateName = "[hygiene]";

// One target's state in a round: "ok" when every address passed, else the
// distinct diagnosis codes of its failing addresses, joined by "+" (e.g.
// "tcp_refused", "tcp_refused+tcp_timeout").
struct WatchedTarget {
  std::string name;  // ProbeResult::target
  std::string state;
  bool operator==(const WatchedTarget&) const = default;
};

// The states of a round's targets, in the order they first appear, and --
// when the hygiene checks ran -- kHygieneStateName: "ok", or the distinct
// finding codes (and "incomplete" when a check could not run on all it
// reads), joined by "+".
std::vector<WatchedTarget> target_states(const std::vector<ProbeResult>& results,
                                         const HygieneReport* hygiene);

// A target whose state differs between two rounds. `before` is empty for a
// target new in this round, `after` for one that is gone.
struct StateChange {
  std::string name;
  std::string before;
  std::string after;
  bool operator==(const StateChange&) const = default;
};

// What changed from `before` to `after`: targets in `after`'s order, then
// the ones that are gone, in `before`'s order.
std::vector<StateChange> state_changes(const std::vector<WatchedTarget>& before,
                                       const std::vector<WatchedTarget>& after);

// "2026-12-04T18:03:11Z istiod-webhook tcp_refused -> ok\n"; "new" and
// "gone" stand for the empty side of a target that came or went.
std::string change_line(WallClock::time_point time, const StateChange& change);

// The line over each redrawn frame, in UTC: "every 2s · round 3 · 18:03:11\n".
std::string frame_header(std::chrono::milliseconds interval, int round, WallClock::time_point time);

// One round as a line of NDJSON: check's JSON object (render_json) with
// "round" and "time" (RFC 3339) first.
std::string round_ndjson(int round, WallClock::time_point time,
                         const std::vector<ProbeResult>& results, std::string_view vantage,
                         const HygieneReport* hygiene);

// The rows `text` takes on a terminal `columns` wide (0: lines never wrap):
// one per line, more for a line wider than the terminal. ANSI escape
// sequences take no room; a UTF-8 character takes one column.
std::size_t terminal_rows(std::string_view text, std::size_t columns);

// Moves the cursor up `rows` rows to the first column and clears from there
// to the end of the screen: where the previous frame was. Empty for 0.
std::string erase_rows(std::size_t rows);

}  // namespace meshprobe
