// `meshprobe explain TEXT`: an error as the user saw it (kubectl apply's
// output, a ReplicaSet event, an Envoy or pilot-agent log line) matched to
// the troubleshooting guide's rows: the cause, the remedy, the hop to check
// and the `meshprobe check` command that checks it.
//
// It lives in the agent room, beside check_command, because it needs both
// kube/ (the API server's webhook-call errors, kube/webhook_call_error.h, and
// the hygiene code of a stale webhook) and the check command's words; no
// lower room may include kube/, and results/ is what probes found, not this.
// The matching is pure: text in, values out, no I/O.
#pragma once

#include <iosfwd>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "agent/check_command.h"

namespace meshprobe {

// Which path a row's hop is on, so the check command probes that path.
enum class ExplainPath {
  webhook,       // the API server to istiod's webhook (15017, Service port 443)
  validator,     // the webhook configurations themselves (hygiene checks)
  discovery,     // a proxy to istiod's xDS (15012)
  proxy_config,  // what istiod pushed and the proxy rejected
};

// One row of the guide: an error as users meet it, and what it means.
struct ExplainRow {
  std::string_view id;  // stable: JSON value and test name
  std::string_view title;
  std::string_view cause;
  std::string_view remedy;
  std::string_view hop;  // where on the path to look
  // The catalogue code it corresponds to (probes/diagnosis.h or a webhook
  // hygiene code); empty where none does.
  std::string_view diagnosis;
  ExplainPath path;
  // Whether one line of the text, lower-cased, is this row's error.
  bool (*matches)(std::string_view lowered_line);
  // The words of the row's error strings, for the closest rows of a text
  // that matches none.
  std::string_view words;
};

// The guide's rows, in the guide's order.
std::span<const ExplainRow> explain_rows();

// What the text names: istiod's Service, its port, the revision, addresses.
struct ExplainFound {
  std::string service;            // "istiod" or "istiod-REV"; empty when not named
  std::string service_namespace;  // "istio-system"; empty when not named
  std::string revision;           // from istiod-REV or the webhook configuration's name
  std::string port;               // the Service or pod port in the text
  std::vector<std::string> ips;
  std::string webhook;  // the webhook or webhook configuration named
};

struct ExplainMatch {
  const ExplainRow* row;
  std::vector<std::string> check_commands;  // ready to paste, most useful first
};

struct Explanation {
  ExplainFound found;
  std::vector<ExplainMatch> matches;       // every row the text matches, in row order
  std::vector<const ExplainRow*> closest;  // when nothing matched: by shared words
};

// Bounded by the caller; the text may hold several lines and several errors.
Explanation explain(std::string_view text);

// Prints the explanation; returns 0 when recognised, 1 when not.
int print_explanation(const Explanation& explanation, OutputFormat output, std::ostream& out);

// `explain --kubeconfig`: the cluster the error came from.
struct ExplainCheckOptions {
  std::string kubeconfig;
  // --revision; empty: the revision the text names on the webhook path (a
  // stale validator or a discovery address may name an uninstalled one, so
  // only the webhook rows' revision aims the checks).
  std::string revision;
};

inline constexpr int kExplainRecognised = 0;
inline constexpr int kExplainNotRecognised = 1;
inline constexpr int kExplainUsage = kExitUsage;  // as `check`: bad credentials, bad options
inline constexpr int kExplainChecksFailed = 3;    // recognised; a check failed or found something

// What `meshprobe check --kubeconfig` the explanation runs: its own
// Kubernetes built-in set (the webhook's pods and the API server's path,
// the mesh config's discovery address, the admission dry runs) and the
// hygiene checks, which cover every row's check command.
CheckOptions explain_check_options(const Explanation& explanation,
                                   const ExplainCheckOptions& options, OutputFormat output);
std::string explain_check_command(const CheckOptions& check);

// Explains, then (when recognised) runs those checks through `check`'s
// session and prints their report after the explanation (JSON: "checks"
// with the command and check's own report, and its "verdicts"). Exit
// kExplainRecognised when everything passed, kExplainChecksFailed when a
// check did not, kExplainNotRecognised (no checks run), kExplainUsage.
int explain_and_check(const Explanation& explanation, const ExplainCheckOptions& options,
                      OutputFormat output, std::ostream& out, std::ostream& err);

// What `meshprobe explain -` reads at most from standard input.
inline constexpr std::size_t kExplainInputLimit = 1024 * 1024;

}  // namespace meshprobe
