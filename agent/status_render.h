// /status (JSON) and / (a self-contained HTML page) from the results store.
#pragma once

#include <string>

#include "agent/results_store.h"

namespace meshprobe {

struct AgentIdentity {
  std::string vantage;
  std::string node_name;
  std::string version;
  std::string config_source;
};

std::string render_status_json(const ResultsStore& store, const AgentIdentity& identity);
std::string render_status_html(const ResultsStore& store, const AgentIdentity& identity);

}  // namespace meshprobe
