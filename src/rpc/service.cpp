#include "rpc/service.h"

#include <string>

namespace coral::rpc {

Error unimplemented_method(std::string_view service, std::string_view method) {
  return Error{Code::unimplemented, std::string(service) + "." + std::string(method) + " is not implemented", {}};
}

}  // namespace coral::rpc
