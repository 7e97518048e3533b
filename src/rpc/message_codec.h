#pragma once
// Protobuf messages <-> request/response bytes, in binary or JSON form.

#include <string>
#include <string_view>

#include "rpc/context.h"
#include "rpc/error.h"

namespace google::protobuf {
class Message;
}  // namespace google::protobuf

namespace coral::rpc {

// Replaces `out` with the message in `bytes`. An empty body is a valid empty
// message in both encodings. JSON follows the proto3 JSON mapping: both
// lowerCamelCase and original field names are accepted, and unknown fields
// are ignored (as connect-go does). Failure: invalid_argument naming the
// message type ("cannot parse pkg.Type: ...").
Status decode_message(Encoding encoding, std::string_view bytes, google::protobuf::Message& out);

// Binary, or JSON with lowerCamelCase names, default values omitted and
// 64-bit integers as strings (protobuf's defaults). Failure (e.g. missing
// proto2 required fields): internal.
Result<std::string> encode_message(Encoding encoding, const google::protobuf::Message& message);

// The message's full protobuf name, e.g. "google.protobuf.Struct".
std::string_view message_name(const google::protobuf::Message& message);

}  // namespace coral::rpc
