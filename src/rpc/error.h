#pragma once

#include <expected>
#include <string>

#include "http/message.h"
#include "rpc/code.h"

namespace coral::rpc {

// An RPC failure as both sides see it.
struct Error {
  Code code = Code::unknown;
  std::string message;
  // Sent as response headers (Connect unary), trailers (gRPC, gRPC-Web) or
  // end-of-stream metadata (Connect streaming); names lower case.
  http::Fields metadata;
};

template <class T>
using Result = std::expected<T, Error>;
using Status = std::expected<void, Error>;

inline std::unexpected<Error> fail(Code code, std::string message) {
  return std::unexpected(Error{code, std::move(message), {}});
}

}  // namespace coral::rpc
