#include "http/message.h"

#include <algorithm>

namespace coral::http {

std::optional<std::string_view> find_field(const Fields& fields, std::string_view name) {
  for (const Field& field : fields) {
    if (field.name == name) return field.value;
  }
  return std::nullopt;
}

std::string_view to_string(Version version) {
  switch (version) {
    case Version::http1_1: return "HTTP/1.1";
    case Version::http2: return "HTTP/2";
  }
  return "HTTP/?";
}

}  // namespace coral::http
