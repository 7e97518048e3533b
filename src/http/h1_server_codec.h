#pragma once
// HTTP/1.1 server codec (Boost.Beast's parser, our own serializer).
//
// Requests on one connection are served in order; a pipelined request waits
// in the input buffer until the response before it is complete. A response
// whose head has no content-length is sent chunked, so that trailers can
// follow (gRPC-Web over HTTP/1.1 does not need them, but a proxy may).

#include <optional>
#include <string>

#include "http/codec.h"

namespace coral::http {

// A request that asked to switch to h2c ("Upgrade: h2c" with an
// "HTTP2-Settings" field and both named in "Connection"), read in full. It
// becomes stream 1 of the HTTP/2 connection (RFC 7540 section 3.2).
struct H2cUpgrade {
  RequestHead head;         // version still says http1_1
  std::string body;         // the complete request body
  std::string settings;     // the HTTP2-Settings value, base64url as sent
};

class H1ServerCodec : public ServerCodec {
 public:
  // Set once receive() has read a complete upgrade request. By then the codec
  // has queued "101 Switching Protocols" as its last output, delivers no
  // more requests to the application, and keeps the bytes that followed the
  // request for take_leftover(). Returns nullopt otherwise, and on later calls.
  virtual std::optional<H2cUpgrade> take_upgrade() = 0;
  virtual std::string take_leftover() = 0;
};

std::unique_ptr<H1ServerCodec> make_h1_server_codec(Application& app, Wake wake, ServerLimits limits);

}  // namespace coral::http
