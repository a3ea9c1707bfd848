// One `meshprobe check` invocation's probing, apart from how it is shown:
// the config, the Kubernetes connection and the prober are set up once,
// then each round probes every target (and runs the hygiene checks) again.
// The single run does one round; --watch (agent/check_watch.h) does one
// every interval.
#pragma once

#include <functional>
#include <memory>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "agent/check_command.h"
#include "common/expected.h"
#include "kube/hygiene_report.h"
#include "probes/result.h"

namespace boost::asio {
class io_context;
}

namespace meshprobe {

struct CheckRound {
  WallClock::time_point started_at{};
  std::vector<ProbeResult> results;  // in the order the targets were given
  HygieneReport hygiene;             // ran: false outside Kubernetes mode

  // Every probe passed and no hygiene finding (nor a check that could not
  // run): what exit 0 means.
  bool passed() const;
  // What the reports take: the hygiene report when the checks ran.
  const HygieneReport* shown_hygiene() const { return hygiene.ran ? &hygiene : nullptr; }
};

class CheckSession {
 public:
  // Loads the config and opens the Kubernetes connection when the options
  // ask for one. An error is bad usage (exit 2): its message is for stderr.
  // Notes that do not stop the run (the canary namespace's) go to `err`.
  // `io` must outlive the session.
  static Expected<std::unique_ptr<CheckSession>> open(const CheckOptions& options,
                                                      boost::asio::io_context& io,
                                                      std::ostream& err);
  ~CheckSession();
  CheckSession(const CheckSession&) = delete;
  CheckSession& operator=(const CheckSession&) = delete;

  // Starts a round: in Kubernetes mode it reads the cluster again first
  // (on this thread), then expands and probes every target. `done` runs
  // once, on `io`, never inside this call. One round at a time.
  void start_round(std::function<void(CheckRound)> done);
  // Cancels the round in flight: its `done` still runs, with the cancelled
  // probes' results. Nothing to do between rounds.
  void cancel_round();
  // One round on `io`, run until it is done.
  CheckRound run_round();

  // The vantage the results are reported from.
  const std::string& vantage() const;

 private:
  struct Impl;
  explicit CheckSession(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// A round as `check` prints it: the table or the JSON object, as the
// options ask.
std::string render_check_report(const CheckRound& round, std::string_view vantage,
                                const CheckOptions& options);

}  // namespace meshprobe
