// The HTTP/2 server codec (nghttp2's server session, through coral's
// callbacks) fed the client preface and then structure-aware frames: valid
// frame headers around fuzzed payloads, header blocks that a real HPACK
// encoder made from fuzzed fields, and raw bytes (http_fuzz_support.h,
// FrameWriter), so that inputs get past the preface and open streams. The
// application answers as in http1_server_fuzz, including large bodies under
// the client's flow control.
//
// Input layout: [flags][ops...]. flags & 1: no SETTINGS after the preface
// (the ops bring their own); & 2: each op's bytes arrive in two pieces;
// & 4: shutdown() (GOAWAY) halfway. Ops: FrameWriter's, where 13-15 are
// the application's turn. Oracles: http_fuzz_support.h.

#include <cstddef>
#include <cstdint>
#include <string>

#include "http/codec.h"
#include "http_fuzz_support.h"

using namespace coral;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  fuzz::Reader in(data, size);
  const std::uint8_t flags = in.byte();

  fuzz::ServerApp app;
  std::size_t wakes = 0;
  auto codec = http::make_server_codec(app, [&] { ++wakes; }, {}, "127.0.0.1:1234");
  fuzz::FrameWriter frames(/*request_fields=*/true);

  std::string bytes = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
  if (!(flags & 1)) fuzz::FrameWriter::frame(bytes, NGHTTP2_SETTINGS, 0, 0, {});
  bool failed = !codec->receive(http::as_bytes(bytes));
  fuzz::drain(*codec);

  bool shut_down = false;
  for (int ops = 0; ops < 4096 && !failed && !in.empty() && !codec->wants_close(); ++ops) {
    const std::uint8_t op = in.byte();
    bytes.clear();
    if (!frames.write(op, in, bytes)) {
      app.tick();
      fuzz::drain(*codec);
      continue;
    }
    const std::size_t half = (flags & 2) ? bytes.size() / 2 : bytes.size();
    failed = !codec->receive(http::as_bytes(std::string_view(bytes).substr(0, half)));
    if (!failed && half < bytes.size()) failed = !codec->receive(http::as_bytes(std::string_view(bytes).substr(half)));
    fuzz::drain(*codec);
    if ((flags & 4) && !shut_down && ops == 8) {
      codec->shutdown();
      shut_down = true;
      fuzz::drain(*codec);
    }
  }
  fuzz::finish_server(app, std::move(codec));
  return 0;
}
