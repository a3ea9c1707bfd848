#include "agent/check_command.h"

#include <boost/asio/io_context.hpp>

#include <algorithm>
#include <ostream>

#include "agent/builtin_targets.h"
#include "agent/report.h"
#include "probes/ca_bundle.h"
#include "probes/prober.h"

namespace meshprobe {
namespace {

// Builds the target list; false (with a message on `err`) on bad input.
bool build_targets(const CheckOptions& options, std::ostream& err,
                   std::vector<std::shared_ptr<const Target>>& out) {
  std::shared_ptr<const CaBundle> ca;
  if (!options.ca_file.empty()) {
    auto bundle = CaBundle::from_file(options.ca_file);
    if (!bundle) {
      err << "meshprobe check: " << bundle.error().message << "\n";
      return false;
    }
    ca = *bundle;
  }

  std::vector<Target> targets;
  if (options.target_urls.empty()) {
    targets = istiod_targets(options.revision);
  }
  for (const std::string& url : options.target_urls) {
    auto target = parse_target_url(url);
    if (!target) {
      err << "meshprobe check: " << target.error().message << "\n";
      return false;
    }
    targets.push_back(std::move(*target));
  }

  for (Target& target : targets) {
    target.ca = ca;
    target.timeout = options.timeout;
    if (!options.server_name.empty()) target.server_name = options.server_name;
    out.push_back(std::make_shared<const Target>(std::move(target)));
  }
  return true;
}

}  // namespace

int run_check(const CheckOptions& options, std::ostream& out, std::ostream& err) {
  if (options.timeout <= std::chrono::milliseconds::zero()) {
    err << "meshprobe check: --timeout must be positive\n";
    return kExitUsage;
  }
  std::vector<std::shared_ptr<const Target>> targets;
  if (!build_targets(options, err, targets)) return kExitUsage;

  boost::asio::io_context io;
  std::vector<std::vector<ProbeResult>> per_target(targets.size());
  {
    Prober prober(io);
    for (std::size_t i = 0; i < targets.size(); ++i) {
      prober.probe(targets[i], [&per_target, i](std::vector<ProbeResult> results) {
        per_target[i] = std::move(results);
      });
    }
    io.run();
  }

  // Report in the order the targets were given, whatever order they finished.
  std::vector<ProbeResult> results;
  for (auto& batch : per_target) {
    std::move(batch.begin(), batch.end(), std::back_inserter(results));
  }
  if (options.output == OutputFormat::json) {
    out << render_json(results, options.vantage);
  } else {
    out << render_table(results, options.vantage, options.color);
  }
  const bool all_ok = std::all_of(results.begin(), results.end(),
                                  [](const ProbeResult& r) { return r.success; });
  return all_ok ? kExitAllOk : kExitSomeFailed;
}

}  // namespace meshprobe
