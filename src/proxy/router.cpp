#include "proxy/router.h"

#include <algorithm>

#include "base/text.h"

namespace coral::proxy {

Router::Router(std::vector<std::string> colonies) : colonies_(std::move(colonies)) {}

std::expected<Route, std::string> Router::route(const http::RequestHead& head) const {
  // "/<first>/<rest>": a served colony id as the first segment.
  if (head.path.size() > 1 && head.path.front() == '/') {
    const auto slash = head.path.find('/', 1);
    if (slash != std::string::npos) {
      const std::string_view first = std::string_view(head.path).substr(1, slash - 1);
      const auto it = std::find(colonies_.begin(), colonies_.end(), first);
      if (it != colonies_.end()) {
        return Route{static_cast<std::size_t>(it - colonies_.begin()), head.path.substr(slash), Route::By::path_prefix};
      }
    }
  }
  if (const auto named = http::find_field(head.fields, kColonyIdHeader)) {
    const auto it = std::find(colonies_.begin(), colonies_.end(), *named);
    if (it == colonies_.end()) {
      std::string served;
      for (const auto& id : colonies_) served += (served.empty() ? "" : ", ") + id;
      return std::unexpected("this proxy does not serve colony " + base::quote(*named) + " (it serves " + served +
                             ")");
    }
    return Route{static_cast<std::size_t>(it - colonies_.begin()), head.path, Route::By::header};
  }
  return Route{0, head.path, Route::By::default_colony};
}

bool is_proxy_path(std::string_view path) { return path.starts_with(kProxyPathPrefix); }

}  // namespace coral::proxy
