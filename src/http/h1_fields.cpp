#include "http/h1_fields.h"

#include <algorithm>
#include <array>

namespace coral::http::h1 {

bool has_token(std::string_view list, std::string_view token) {
  bool found = false;
  for_each_token(list, [&](std::string_view element) {
    found = iequals(element, token);
    return !found;
  });
  return found;
}

bool is_connection_specific(std::string_view name) {
  static constexpr std::array<std::string_view, 5> kNames = {"connection", "keep-alive", "proxy-connection",
                                                             "transfer-encoding", "upgrade"};
  return std::find(kNames.begin(), kNames.end(), name) != kNames.end();
}

void strip_connection_fields(Fields& fields) {
  // Connection options name further hop-by-hop fields (RFC 9110 section
  // 7.6.1), e.g. "Connection: Upgrade, HTTP2-Settings". Collected first:
  // the Connection field may follow the fields it names.
  std::vector<std::string> options;
  for (const Field& field : fields) {
    if (field.name != "connection") continue;
    for_each_token(field.value, [&](std::string_view token) {
      options.push_back(base::to_lower(token));
      return true;
    });
  }
  std::erase_if(fields, [&](const Field& field) {
    if (field.name == "te") return !iequals(trim(field.value), "trailers");
    if (is_connection_specific(field.name)) return true;
    return std::find(options.begin(), options.end(), field.name) != options.end();
  });
}

}  // namespace coral::http::h1
