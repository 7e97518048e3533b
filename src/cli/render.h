#pragma once
// Output the colony commands share: proto3 JSON for --json, and the agents
// list.

#include <string>

#include <google/protobuf/message.h>

#include "coral/colony/v1/colony.pb.h"

namespace coral::cli {

// proto3 JSON with the proto field names ("colony_id"), as scripts expect.
std::string proto_json(const google::protobuf::Message& message);

// "Agents:" and one line per agent (id, component, mesh IPs, health, when
// last seen), or "No agents connected."
void print_agents(const coral::colony::v1::ListAgentsResponse& agents);

}  // namespace coral::cli
