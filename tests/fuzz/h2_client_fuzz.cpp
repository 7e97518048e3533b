// The HTTP/2 client codec (nghttp2's client session, h2c with prior
// knowledge) with requests in flight, fed a server's structure-aware frames
// (http_fuzz_support.h, FrameWriter: header blocks are response fields made
// by a real HPACK encoder), while the caller starts requests, sends bodies
// and resets streams between frames, as the proxy's upstream connection
// does.
//
// Input layout: [flags][ops...]. flags & 1: no server SETTINGS first; & 2:
// the first two requests carry bodies still open. Ops: FrameWriter's, plus
// 13: start a request; 14: [which] send body bytes, ending the body;
// 15: [which] reset that request. Oracles (http_fuzz_support.h): each
// response ends exactly once with nothing after it; after connection_lost()
// every response has ended.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "http/codec.h"
#include "http_fuzz_support.h"

using namespace coral;

namespace {

struct Call {
  std::shared_ptr<fuzz::Response> response = std::make_shared<fuzz::Response>();
  http::RequestWriter* writer = nullptr;  // valid while the response is open
  bool body_open = false;
};

void start(http::ClientCodec& codec, std::vector<Call>& calls, bool with_body) {
  if (!codec.can_start_request() || calls.size() >= 16) return;
  Call call;
  http::RequestHead head;
  head.method = "POST";
  head.authority = "127.42.0.1:9000";
  head.path = "/coral.colony.v1.ColonyService/ListAgents";
  head.version = http::Version::http2;
  head.fields = {{"content-type", "application/grpc"}, {"te", "trailers"}};
  call.writer = &codec.start_request(head, !with_body, call.response);
  call.body_open = with_body;
  calls.push_back(std::move(call));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  fuzz::Reader in(data, size);
  const std::uint8_t flags = in.byte();

  std::size_t wakes = 0;
  auto codec = http::make_h2_client_codec([&] { ++wakes; });
  fuzz::FrameWriter frames(/*request_fields=*/false);
  std::vector<Call> calls;
  start(*codec, calls, flags & 2);
  start(*codec, calls, flags & 2);
  fuzz::drain(*codec);

  std::string bytes;
  if (!(flags & 1)) fuzz::FrameWriter::frame(bytes, NGHTTP2_SETTINGS, 0, 0, {});
  bool failed = !codec->receive(http::as_bytes(bytes));
  fuzz::drain(*codec);

  for (int ops = 0; ops < 4096 && !failed && !in.empty() && !codec->wants_close(); ++ops) {
    const std::uint8_t op = in.byte();
    bytes.clear();
    if (frames.write(op, in, bytes)) {
      failed = !codec->receive(http::as_bytes(bytes));
    } else if (op % 16 == 13) {
      start(*codec, calls, op & 0x10);
    } else if (!calls.empty()) {
      Call& call = calls[in.byte() % calls.size()];
      if (!call.response->done) {
        if (op % 16 == 14 && call.body_open) {
          call.writer->send_data(http::as_bytes(std::string_view("\0\0\0\0\0", 5)), true);
          call.body_open = false;
        } else if (op % 16 == 15) {
          call.writer->reset();
        }
      }
    }
    fuzz::drain(*codec);
  }
  (void)codec->idle();
  codec->connection_lost();
  for (const Call& call : calls) fuzz::require(call.response->done, "a response is still open after connection_lost()");
  codec.reset();
  return 0;
}
