#include "rpc/message_codec.h"

#include <google/protobuf/descriptor.h>
#include <google/protobuf/message.h>
#include <google/protobuf/util/json_util.h>

#include <climits>

namespace coral::rpc {
namespace {

std::unexpected<Error> cannot_parse(const google::protobuf::Message& message, std::string_view why) {
  std::string text = "cannot parse ";
  text += message_name(message);
  text += ": ";
  text += why;
  return fail(Code::invalid_argument, std::move(text));
}

}  // namespace

std::string_view message_name(const google::protobuf::Message& message) {
  return message.GetDescriptor()->full_name();
}

Status decode_message(Encoding encoding, std::string_view bytes, google::protobuf::Message& out) {
  out.Clear();
  if (bytes.empty()) return {};
  if (encoding == Encoding::proto) {
    // protobuf's parser takes an int size; binary messages are limited to
    // 2 GiB anyway.
    if (bytes.size() > static_cast<std::size_t>(INT_MAX)) return cannot_parse(out, "message too large");
    if (out.ParsePartialFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
      if (out.IsInitialized()) return {};
      return cannot_parse(out, "missing required fields: " + out.InitializationErrorString());
    }
    out.Clear();
    return cannot_parse(out, "invalid protobuf binary data");
  }
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = true;
  const auto status = google::protobuf::util::JsonStringToMessage(
      google::protobuf::StringPiece(bytes.data(), bytes.size()), &out, options);
  if (!status.ok()) {
    out.Clear();
    const auto why = status.message();
    return cannot_parse(out, std::string_view(why.data(), why.size()));
  }
  return {};
}

Result<std::string> encode_message(Encoding encoding, const google::protobuf::Message& message) {
  std::string out;
  if (encoding == Encoding::proto) {
    if (!message.IsInitialized()) {
      return fail(Code::internal, "cannot serialize " + std::string(message_name(message)) +
                                      ": missing required fields: " + message.InitializationErrorString());
    }
    if (!message.SerializeToString(&out)) {
      return fail(Code::internal, "cannot serialize " + std::string(message_name(message)));
    }
    return out;
  }
  google::protobuf::util::JsonPrintOptions options;  // lowerCamelCase, defaults omitted
  const auto status = google::protobuf::util::MessageToJsonString(message, &out, options);
  if (!status.ok()) {
    const auto why = status.message();
    return fail(Code::internal, "cannot serialize " + std::string(message_name(message)) + " to JSON: " +
                                    std::string(why.data(), why.size()));
  }
  return out;
}

}  // namespace coral::rpc
