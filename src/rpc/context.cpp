#include "rpc/context.h"

namespace coral::rpc {

std::string_view to_string(Protocol protocol) {
  switch (protocol) {
    case Protocol::connect: return "connect";
    case Protocol::grpc: return "grpc";
    case Protocol::grpc_web: return "grpc_web";
  }
  return "unknown";
}

std::string_view to_string(Encoding encoding) {
  switch (encoding) {
    case Encoding::proto: return "proto";
    case Encoding::json: return "json";
  }
  return "unknown";
}

}  // namespace coral::rpc
