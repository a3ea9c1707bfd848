#include "agent/check_watch.h"

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>

#include <sys/ioctl.h>
#include <unistd.h>

#include <csignal>
#include <optional>
#include <ostream>

#include "agent/check_session.h"
#include "agent/results/format.h"
#include "agent/results/watch_report.h"

namespace meshprobe {
namespace {

// The terminal's width, read at each frame since the window may be resized;
// 0 (lines never wrap) when it cannot be told.
std::size_t terminal_columns() {
  winsize size{};
  if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &size) != 0) return 0;
  return size.ws_col;
}

class WatchLoop {
 public:
  WatchLoop(CheckSession& session, boost::asio::io_context& io, const CheckOptions& options,
            std::ostream& out)
      : session_(session),
        io_(io),
        options_(options),
        watch_(*options.watch),
        out_(out),
        next_round_(io),
        max_wait_(io),
        signals_(io, SIGINT, SIGTERM) {}

  int run() {
    signals_.async_wait([this](const boost::system::error_code& ec, int) {
      if (ec) return;
      // A watch ends with Ctrl-C; a wait for "every target passes" that is
      // interrupted has not seen it.
      if (watch_.until_ok) {
        stop(kExitSomeFailed, "interrupted before every target passed");
      } else {
        stop(kExitAllOk, "");
      }
    });
    if (watch_.max_wait) {
      max_wait_.expires_after(*watch_.max_wait);
      max_wait_.async_wait([this](const boost::system::error_code& ec) {
        if (!ec) stop(kExitSomeFailed, "max-wait passed, not every target passes");
      });
    }
    start_round();
    io_.run();
    return exit_code_;
  }

 private:
  void start_round() {
    round_started_ = std::chrono::steady_clock::now();
    in_flight_ = true;
    session_.start_round([this](CheckRound round) { round_done(std::move(round)); });
  }

  void round_done(CheckRound round) {
    in_flight_ = false;
    if (stopping_) {
      // Cancelled: shown only when it is all that is known.
      if (!last_) last_ = std::move(round);
      finish();
      return;
    }
    ++round_number_;
    show(round);
    last_ = std::move(round);
    if (watch_.until_ok && last_->passed()) {
      stop(kExitAllOk, "every target passes");
      return;
    }
    // Start to start; a round longer than the interval is followed at once.
    next_round_.expires_at(round_started_ + watch_.interval);
    next_round_.async_wait([this](const boost::system::error_code& ec) {
      if (!ec) start_round();
    });
  }

  void show(const CheckRound& round) {
    const std::vector<WatchedTarget> states = target_states(round.results, round.shown_hygiene());
    if (options_.output == OutputFormat::json) {
      out_ << round_ndjson(round_number_, round.started_at, round.results, session_.vantage(),
                           round.shown_hygiene());
    } else {
      std::string changes;
      if (round_number_ > 1) {
        for (const StateChange& change : state_changes(states_, states)) {
          changes += change_line(round.started_at, change);
        }
      }
      if (watch_.terminal) {
        // The change lines take the old frame's place and stay as history;
        // the new frame goes under them.
        const std::string frame = frame_header(watch_.interval, round_number_, round.started_at) +
                                  '\n' + render_check_report(round, session_.vantage(), options_);
        out_ << erase_rows(frame_rows_) << changes << frame;
        frame_rows_ = terminal_rows(frame, terminal_columns());
      } else if (round_number_ == 1) {
        out_ << render_check_report(round, session_.vantage(), options_);
      } else {
        out_ << changes;
      }
    }
    out_.flush();
    states_ = states;
  }

  // Ends the loop: cancels what waits and the round in flight, whose
  // completion then finishes.
  void stop(int exit_code, std::string reason) {
    if (stopping_) return;
    stopping_ = true;
    exit_code_ = exit_code;
    reason_ = std::move(reason);
    signals_.cancel();
    max_wait_.cancel();
    next_round_.cancel();
    if (in_flight_) {
      session_.cancel_round();
    } else {
      finish();
    }
  }

  // The last word of --until-ok: the last state, unless it is on screen
  // already (the frame, or the one table printed), and how the wait ended.
  // When no round finished, the cancelled one is all there is to show.
  void finish() {
    if (options_.output == OutputFormat::json || reason_.empty()) return;
    const bool shown = round_number_ > 0 && (watch_.terminal || round_number_ == 1);
    if (last_ && !shown) out_ << '\n' << render_check_report(*last_, session_.vantage(), options_);
    out_ << rfc3339(WallClock::now()) << ' ' << reason_ << '\n';
    out_.flush();
  }

  CheckSession& session_;
  boost::asio::io_context& io_;
  const CheckOptions& options_;
  const WatchOptions& watch_;
  std::ostream& out_;
  boost::asio::steady_timer next_round_;
  boost::asio::steady_timer max_wait_;
  boost::asio::signal_set signals_;

  std::chrono::steady_clock::time_point round_started_;
  bool in_flight_ = false;
  bool stopping_ = false;
  int exit_code_ = kExitAllOk;
  std::string reason_;  // why the loop stopped, when not by a signal
  int round_number_ = 0;
  std::optional<CheckRound> last_;
  std::vector<WatchedTarget> states_;
  std::size_t frame_rows_ = 0;  // of the frame on screen
};

}  // namespace

int run_watch(CheckSession& session, boost::asio::io_context& io, const CheckOptions& options,
              std::ostream& out) {
  return WatchLoop(session, io, options, out).run();
}

}  // namespace meshprobe
