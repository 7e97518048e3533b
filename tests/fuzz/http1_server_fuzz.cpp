// The server codec of a cleartext port (http::make_server_codec: HTTP/1.1,
// and h2c after "Upgrade: h2c" or the preface) fed arbitrary bytes in
// arbitrary chunks, with an application that answers in every way coral's
// servers do (see http_fuzz_support.h): at once, streaming with trailers,
// later from outside receive(), early, reset, with backpressure. So the
// request parser and the response serializer both run.
//
// Input layout: [flags][split seed][bytes...]. flags & 1: 1 KiB header
// limit; & 2: shutdown() halfway; & 4: the application's turn comes after
// every third chunk only. Oracles: http_fuzz_support.h.

#include <cstddef>
#include <cstdint>

#include "http/codec.h"
#include "http_fuzz_support.h"

using namespace coral;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  fuzz::Reader in(data, size);
  const std::uint8_t flags = in.byte();
  fuzz::Splitter splitter(in.byte());
  const std::string_view stream = in.rest();

  fuzz::ServerApp app;
  http::ServerLimits limits;
  if (flags & 1) limits.max_header_bytes = 1024;
  std::size_t wakes = 0;
  auto codec = http::make_server_codec(app, [&] { ++wakes; }, limits, "127.0.0.1:1234");

  std::size_t at = 0;
  std::size_t chunks = 0;
  bool shut_down = false;
  while (at < stream.size()) {
    const std::size_t n = std::min(splitter.next(), stream.size() - at);
    const auto result = codec->receive(http::as_bytes(stream.substr(at, n)));
    at += n;
    fuzz::drain(*codec);
    if (!result) break;
    if (!(flags & 4) || ++chunks % 3 == 0) {
      app.tick();
      fuzz::drain(*codec);
    }
    if ((flags & 2) && !shut_down && at >= stream.size() / 2) {
      codec->shutdown();
      shut_down = true;
      fuzz::drain(*codec);
    }
    if (codec->wants_close()) break;
  }
  fuzz::finish_server(app, std::move(codec));
  return 0;
}
