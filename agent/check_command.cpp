#include "agent/check_command.h"

#include <boost/asio/io_context.hpp>

#include <ostream>

#include "agent/check_session.h"
#include "agent/check_watch.h"

namespace meshprobe {
namespace {

// What is wrong with the --watch options, or empty.
std::string watch_usage_error(const WatchOptions& watch) {
  if (watch.interval <= std::chrono::milliseconds::zero()) {
    return "--watch: the interval must be positive";
  }
  if (watch.max_wait && !watch.until_ok) return "--max-wait needs --until-ok";
  if (watch.max_wait && *watch.max_wait <= std::chrono::milliseconds::zero()) {
    return "--max-wait must be positive";
  }
  return "";
}

}  // namespace

int run_check(const CheckOptions& options, std::ostream& out, std::ostream& err) {
  if (options.timeout && *options.timeout <= std::chrono::milliseconds::zero()) {
    err << "meshprobe check: --timeout must be positive\n";
    return kExitUsage;
  }
  if (options.watch) {
    if (const std::string error = watch_usage_error(*options.watch); !error.empty()) {
      err << "meshprobe check: " << error << "\n";
      return kExitUsage;
    }
  }

  // Declared before the session: its connection's workers hand results to `io`.
  boost::asio::io_context io;
  auto session = CheckSession::open(options, io, err);
  if (!session) {
    err << session.error().message << "\n";
    return kExitUsage;
  }
  if (options.watch) return run_watch(**session, io, options, out);

  const CheckRound round = (*session)->run_round();
  out << render_check_report(round, (*session)->vantage(), options);
  return round.passed() ? kExitAllOk : kExitSomeFailed;
}

}  // namespace meshprobe
