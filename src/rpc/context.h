#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "http/message.h"

namespace coral::rpc {

enum class Protocol : std::uint8_t { connect, grpc, grpc_web };
std::string_view to_string(Protocol protocol);

enum class Encoding : std::uint8_t { proto, json };
std::string_view to_string(Encoding encoding);

// What a handler knows about the call it serves, and what it may add to the
// response. Lives for the duration of the handler's coroutine.
struct Context {
  Protocol protocol = Protocol::connect;
  Encoding encoding = Encoding::proto;
  const http::RequestHead* request = nullptr;  // never null inside a handler
  // From Connect-Timeout-Ms / grpc-timeout; the server cancels the handler
  // and answers deadline_exceeded when it passes.
  std::optional<std::chrono::steady_clock::time_point> deadline;
  std::string peer;                 // remote "address:port" of the caller
  http::Fields response_headers;    // sent before the first message
  http::Fields response_trailers;   // sent after the last one
};

}  // namespace coral::rpc
