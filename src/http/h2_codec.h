#pragma once
// HTTP/2 codecs over nghttp2's sans-I/O session (mem_recv / mem_send).

#include "http/codec.h"
#include "http/h1_server_codec.h"

namespace coral::http {

// `upgrade`, when given, is the HTTP/1.1 request that switched this
// connection to h2c; it is delivered to `app` as stream 1.
std::unique_ptr<ServerCodec> make_h2_server_codec(Application& app, Wake wake, ServerLimits limits,
                                                  H2cUpgrade* upgrade = nullptr);

}  // namespace coral::http
