#pragma once
// Which colony a request through the proxy is for (RFD 005, "Multi-Colony
// Access"), and the path to forward. Sans-I/O: a head in, a decision out.
//
//   1. path prefix   /<colony-id>/coral.colony.v1.ColonyService/GetStatus
//                    → colony <colony-id>, path /coral.colony.v1.ColonyService/GetStatus
//   2. header        Colony-ID: <colony-id>
//   3. otherwise     the default colony (the first one the proxy serves)
//
// A path prefix names a colony only when it is one the proxy serves (so
// services whose first path segment looks like an id still reach the
// default colony); a Colony-ID header naming a colony the proxy does not
// serve is an error, never silently the default. The proxy's own endpoints
// live under /-/coral/proxy/: no service path starts with "/-/".

#include <expected>
#include <string>
#include <string_view>
#include <vector>

#include "http/message.h"

namespace coral::proxy {

inline constexpr std::string_view kProxyPathPrefix = "/-/coral/proxy/";
inline constexpr std::string_view kHealthPath = "/-/coral/proxy/health";
inline constexpr std::string_view kColonyIdHeader = "colony-id";

struct Route {
  std::size_t colony = 0;  // index into the router's colonies
  std::string path;        // what to send upstream
  enum class By { default_colony, path_prefix, header } by = By::default_colony;
};

class Router {
 public:
  // `colonies`: the ids served, the first being the default. Not empty.
  explicit Router(std::vector<std::string> colonies);

  // The route of a request for a colony; an error (for a 404 answer) when
  // its Colony-ID header names a colony this proxy does not serve.
  std::expected<Route, std::string> route(const http::RequestHead& head) const;

  const std::vector<std::string>& colonies() const { return colonies_; }

 private:
  std::vector<std::string> colonies_;
};

// True for the proxy's own endpoints (kProxyPathPrefix).
bool is_proxy_path(std::string_view path);

}  // namespace coral::proxy
