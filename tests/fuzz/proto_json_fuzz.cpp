// rpc::decode_message over arbitrary bytes, as the request and response
// bodies of coral's RPCs: proto3 JSON (Connect's application/json, curl and
// buf users) and binary protobuf, into coral's own message types.
//
// Input layout: [selector][body...]: selector % 16 picks the message type,
// selector & 0x80 binary instead of JSON. Oracles: a body that decodes
// re-encodes (JSON and binary both), and what it encodes to decodes to an
// equal message.

#include <google/protobuf/message.h>
#include <google/protobuf/stubs/logging.h>
#include <google/protobuf/util/message_differencer.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string_view>

#include "coral/colony/v1/colony.pb.h"
#include "coral/discovery/v1/discovery.pb.h"
#include "coral/mesh/v1/mesh.pb.h"
#include "rpc/message_codec.h"

namespace {

using coral::rpc::Encoding;
using google::protobuf::Message;

void require(bool ok, const char* what) {
  if (ok) return;
  std::fprintf(stderr, "proto_json_fuzz: oracle failed: %s\n", what);
  __builtin_trap();
}

// The messages that servers and clients read from the network: requests on
// the colony's, discovery's and the mesh's services, and the responses the
// CLI, proxy and agents read back.
std::unique_ptr<Message> make_message(std::uint8_t selector) {
  namespace discovery = coral::discovery::v1;
  namespace colony = coral::colony::v1;
  namespace mesh = coral::mesh::v1;
  switch (selector % 16) {
    case 0: return std::make_unique<discovery::RegisterColonyRequest>();
    case 1: return std::make_unique<discovery::LookupColonyRequest>();
    case 2: return std::make_unique<discovery::LookupColonyResponse>();
    case 3: return std::make_unique<discovery::RegisterColonyResponse>();
    case 4: return std::make_unique<discovery::HealthResponse>();
    case 5: return std::make_unique<mesh::RegisterRequest>();
    case 6: return std::make_unique<mesh::RegisterResponse>();
    case 7: return std::make_unique<mesh::HeartbeatRequest>();
    case 8: return std::make_unique<mesh::HeartbeatResponse>();
    case 9: return std::make_unique<mesh::UnregisterRequest>();
    case 10: return std::make_unique<colony::GetStatusResponse>();
    case 11: return std::make_unique<colony::ListAgentsResponse>();
    case 12: return std::make_unique<colony::GetTopologyResponse>();
    case 13: return std::make_unique<colony::AskRequest>();
    case 14: return std::make_unique<colony::AskResponse>();
    default: return std::make_unique<colony::GetStatusRequest>();
  }
}

void check_round_trip(const Message& message, Encoding encoding) {
  auto encoded = coral::rpc::encode_message(encoding, message);
  require(encoded.has_value(), "a decoded message does not encode");
  std::unique_ptr<Message> again(message.New());
  require(coral::rpc::decode_message(encoding, *encoded, *again).has_value(), "an encoded message does not decode");
  require(google::protobuf::util::MessageDifferencer::Equals(message, *again),
          "encoding then decoding changed the message");
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  // libprotobuf logs each string field with invalid UTF-8 that it refuses.
  google::protobuf::SetLogHandler([](google::protobuf::LogLevel, const char*, int, const std::string&) {});
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  const std::string_view body(reinterpret_cast<const char*>(data) + 1, size - 1);
  const Encoding encoding = data[0] & 0x80 ? Encoding::proto : Encoding::json;
  std::unique_ptr<Message> message = make_message(data[0]);
  auto decoded = coral::rpc::decode_message(encoding, body, *message);
  if (!decoded) {
    require(!decoded.error().message.empty(), "a decoding error says nothing");
    return 0;
  }
  check_round_trip(*message, Encoding::proto);
  // JSON has no unknown fields, which binary keeps.
  message->DiscardUnknownFields();
  check_round_trip(*message, Encoding::json);
  return 0;
}
