#include "proxy/health.h"

#include <google/protobuf/util/json_util.h>

#include "base/json_text.h"

namespace coral::proxy {
namespace {

namespace pv1 = coral::proxy::v1;

// The JSON mapping refuses strings that are not UTF-8; what the proxy
// reports (an upstream error, a flag) should not make it answer nothing.
void make_utf8(std::string& text) { text = base::replace_invalid_utf8(text); }

}  // namespace

std::string write_health_json(const pv1::ProxyHealth& health) {
  pv1::ProxyHealth valid = health;
  for (std::string* text : {valid.mutable_status(), valid.mutable_listen(), valid.mutable_started_at()}) {
    make_utf8(*text);
  }
  for (pv1::ColonyHealth& colony : *valid.mutable_colonies()) {
    for (std::string* text : {colony.mutable_colony_id(), colony.mutable_forwarding_to(),
                              colony.mutable_colony_mesh_ipv4(), colony.mutable_colony_mesh_ipv6(),
                              colony.mutable_mesh_ipv4(), colony.mutable_mesh_ipv6(), colony.mutable_discovery(),
                              colony.mutable_status()}) {
      make_utf8(*text);
    }
  }
  google::protobuf::util::JsonPrintOptions options;
  options.always_print_primitive_fields = true;  // "failed":0, "colonies":[] as before
  options.preserve_proto_field_names = true;     // "uptime_seconds", not "uptimeSeconds"
  std::string out;
  const auto status = google::protobuf::util::MessageToJsonString(valid, &out, options);
  // Can't fail: every string is UTF-8 now, and the message has no Any or
  // map whose failure modes the mapping reports.
  if (!status.ok()) return "{\"status\":\"ok\"}";
  return out;
}

std::expected<pv1::ProxyHealth, std::string> read_health_json(std::string_view json) {
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = true;
  pv1::ProxyHealth health;
  const auto status = google::protobuf::util::JsonStringToMessage(json, &health, options);
  if (!status.ok()) return std::unexpected(std::string(status.message()));
  return health;
}

}  // namespace coral::proxy
