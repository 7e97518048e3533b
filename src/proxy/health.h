#pragma once
// The proxy's health document (proto/coral/proxy/v1/health.proto) as the
// JSON that GET /-/coral/proxy/health answers, and back: the one writer and
// the one reader, both protobuf's JSON mapping with the proto's field names.

#include <expected>
#include <string>
#include <string_view>

#include "coral/proxy/v1/health.pb.h"

namespace coral::proxy {

// One line of JSON, every field present (zeros and empty lists included).
// Text that is not UTF-8 is written with U+FFFD in place of broken bytes.
std::string write_health_json(const coral::proxy::v1::ProxyHealth& health);

// Fields this reader does not know are ignored (a newer proxy may add some);
// missing ones read as zero or empty. The error says what was wrong.
std::expected<coral::proxy::v1::ProxyHealth, std::string> read_health_json(std::string_view json);

}  // namespace coral::proxy
