// The HTTP/1.1 client codec (http::make_h1_client_codec): a request is
// started, then arbitrary response bytes arrive in arbitrary chunks; each
// time a response ends, the next request starts (up to four), as the
// proxy and the CLI reuse a connection.
//
// Input layout: [flags][split seed][bytes...]. flags & 3: the method and
// body (GET; POST with a body sent at once; POST with a body sent in two
// pieces, the last after the response began; HEAD); & 4: the request body
// is reset midway. Oracles (http_fuzz_support.h): each response ends
// exactly once and nothing is delivered after that; after
// connection_lost() every response has ended.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "http/codec.h"
#include "http_fuzz_support.h"

using namespace coral;

namespace {

struct Call {
  std::shared_ptr<fuzz::Response> response = std::make_shared<fuzz::Response>();
  http::RequestWriter* writer = nullptr;
  bool body_pending = false;
};

Call start(http::ClientCodec& codec, std::uint8_t flags) {
  Call call;
  http::RequestHead head;
  head.authority = "localhost:8000";
  head.path = "/coral.colony.v1.ColonyService/GetStatus";
  head.fields = {{"content-type", "application/json"}};
  const std::uint8_t mode = flags & 3;
  head.method = mode == 0 ? "GET" : mode == 3 ? "HEAD" : "POST";
  const bool body = mode == 1 || mode == 2;
  if (mode == 1) head.fields.push_back({"content-length", "2"});
  call.writer = &codec.start_request(head, !body, call.response);
  if (mode == 1) call.writer->send_data(http::as_bytes("{}"), true);
  if (mode == 2) {
    call.writer->send_data(http::as_bytes("{\"a\":"), false);
    call.body_pending = true;
  }
  return call;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  fuzz::Reader in(data, size);
  const std::uint8_t flags = in.byte();
  fuzz::Splitter splitter(in.byte());
  const std::string_view stream = in.rest();

  std::size_t wakes = 0;
  auto codec = http::make_h1_client_codec([&] { ++wakes; });
  std::vector<Call> calls;
  calls.push_back(start(*codec, flags));
  fuzz::drain(*codec);

  std::size_t at = 0;
  while (at < stream.size()) {
    const std::size_t n = std::min(splitter.next(), stream.size() - at);
    const auto result = codec->receive(http::as_bytes(stream.substr(at, n)));
    at += n;
    fuzz::drain(*codec);
    if (!result) break;
    Call& current = calls.back();
    if (current.body_pending && !current.response->done && current.response->heads > 0) {
      current.body_pending = false;
      if (flags & 4) current.writer->reset();
      else current.writer->send_data(http::as_bytes("1}"), true);
      fuzz::drain(*codec);
    }
    if (current.response->done && !codec->wants_close() && codec->can_start_request() && calls.size() < 4) {
      calls.push_back(start(*codec, static_cast<std::uint8_t>(flags >> 3)));
      fuzz::drain(*codec);
    }
    if (codec->wants_close()) break;
  }
  (void)codec->idle();
  codec->connection_lost();
  for (const Call& call : calls) fuzz::require(call.response->done, "a response is still open after connection_lost()");
  codec.reset();
  return 0;
}
