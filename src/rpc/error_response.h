#pragma once
// An RPC error as a complete response, in whichever protocol the request
// speaks: for intermediaries (the proxy) that must answer a call they
// could not deliver, so that every client — Connect, gRPC, gRPC-Web — reads
// a proper status instead of a bare HTTP error.
//
//   gRPC              200, Trailers-Only: grpc-status, grpc-message
//   gRPC-Web          200, a trailers frame in the body
//   Connect streaming 200, an end-of-stream message with the error
//   anything else     Connect unary: the code's HTTP status, JSON body

#include "http/codec.h"
#include "rpc/error.h"

namespace coral::rpc {

void write_error_response(http::ResponseWriter& writer, const http::RequestHead& request, const Error& error);

}  // namespace coral::rpc
