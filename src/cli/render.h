#pragma once
// Output the colony commands share: proto3 JSON for --json, and the agents
// list.

#include <string>

#include <google/protobuf/message.h>
#include <google/protobuf/repeated_ptr_field.h>

#include "coral/colony/v1/colony.pb.h"

namespace coral::cli {

// proto3 JSON with the proto field names ("colony_id"), as scripts expect,
// on one line. A field that holds its default (0, false, "", no message) is
// left out unless it has explicit presence (`optional`) and is set.
std::string proto_json(const google::protobuf::Message& message);

// A JSON array of `messages`, each as proto_json prints it: the JSON mapping
// has no top-level arrays, and `colony list --json` and `proxy list --json`
// print one.
template <class M>
std::string proto_json_array(const google::protobuf::RepeatedPtrField<M>& messages) {
  std::string out = "[";
  for (const M& message : messages) {
    if (out.size() > 1) out += ',';
    out += proto_json(message);
  }
  return out + "]";
}

// "Agents:" and one line per agent (id, component, mesh IPs, health, when
// last seen), or "No agents connected."
// The local time now as --verbose lines start with it: "2025-10-29 10:23:15".
std::string local_time_now();

void print_agents(const coral::colony::v1::ListAgentsResponse& agents);

}  // namespace coral::cli
