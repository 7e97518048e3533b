#pragma once
// Protocol-agnostic HTTP messages, shared by the HTTP/1.1 and HTTP/2 codecs
// and everything above them (RPC, proxy).

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/text.h"

namespace coral::http {

// One header or trailer field. Codecs always deliver names in lower case
// (HTTP/2 requires it; HTTP/1.1 names are case-insensitive), and callers
// must hand them lower-case names too.
struct Field {
  std::string name;
  std::string value;
};
using Fields = std::vector<Field>;

// First value of `name` (lower case), if present.
std::optional<std::string_view> find_field(const Fields& fields, std::string_view name);

enum class Version : std::uint8_t { http1_1, http2 };
std::string_view to_string(Version version);

struct RequestHead {
  std::string method;
  std::string path;       // origin-form: "/pkg.Service/Method?query"
  std::string authority;  // Host header (h1) or :authority (h2)
  std::string scheme = "http";
  Fields fields;          // regular fields only; no pseudo-headers, no Host
  Version version = Version::http1_1;
  std::string remote;     // "address:port" of the client, set by the server
};

struct ResponseHead {
  int status = 200;
  Fields fields;  // regular fields only
};

// Case-insensitive ASCII comparison, for values such as content types.
using base::iequals;

}  // namespace coral::http
