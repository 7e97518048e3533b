#include "cli/render.h"

#include <ctime>
#include <iostream>

#include <google/protobuf/util/json_util.h>
#include <google/protobuf/util/time_util.h>

#include "cli/context.h"

namespace coral::cli {

std::string proto_json(const google::protobuf::Message& message) {
  std::string out;
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  (void)google::protobuf::util::MessageToJsonString(message, &out, options);
  return out;
}

void print_agents(const coral::colony::v1::ListAgentsResponse& agents) {
  if (agents.agents_size() == 0) {
    std::cout << "No agents connected.\n";
    return;
  }
  std::cout << "Agents:\n";
  for (const auto& agent : agents.agents()) {
    const auto age = google::protobuf::util::TimeUtil::GetCurrentTime() - agent.last_seen();
    std::cout << "  " << agent.agent_id() << "  " << agent.component_name() << "  " << agent.mesh_ipv4() << " / "
              << agent.mesh_ipv6() << "  " << agent.status() << "  (seen "
              << format_uptime(google::protobuf::util::TimeUtil::DurationToSeconds(age)) << " ago)\n";
  }
}

std::string local_time_now() {
  const std::time_t now = std::time(nullptr);
  std::tm local{};
  localtime_r(&now, &local);
  char text[32];
  const std::size_t size = std::strftime(text, sizeof text, "%Y-%m-%d %H:%M:%S", &local);
  return std::string(text, size);
}

}  // namespace coral::cli
