// EnvelopeReader over arbitrary bytes, fed in two chunks; every payload is
// also parsed as a gRPC-Web trailer block.
//
// Input layout: [split selector][limit selector][body...]. Oracles: the
// envelopes read must re-encode to exactly the bytes consumed, and the result
// must not depend on where the body was split.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "rpc/envelope.h"
#include "rpc/protocol_grpc.h"

namespace {

struct Outcome {
  std::vector<coral::rpc::Envelope> envelopes;
  bool failed = false;
  bool partial = false;
};

Outcome run(std::string_view body, std::size_t split, std::size_t limit) {
  Outcome outcome;
  coral::rpc::EnvelopeReader reader(limit);
  for (std::string_view chunk : {body.substr(0, split), body.substr(split)}) {
    if (!reader.feed(chunk)) {
      outcome.failed = true;
      break;
    }
    while (auto envelope = reader.next()) outcome.envelopes.push_back(std::move(*envelope));
  }
  outcome.partial = reader.has_partial();
  return outcome;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  const std::string_view body(reinterpret_cast<const char*>(data) + 2, size - 2);
  const std::size_t split = body.empty() ? 0 : data[0] % (body.size() + 1);
  // Limits of 0..239 bytes or 256 B..8 MiB, so both sides of the size check are hit.
  const std::size_t limit = data[1] >= 0xF0 ? (std::size_t{1} << (data[1] - 0xE8)) : data[1];

  const Outcome split_run = run(body, split, limit);
  const Outcome whole_run = run(body, body.size(), limit);

  if (!split_run.failed) {
    std::string reencoded;
    for (const auto& envelope : split_run.envelopes) {
      coral::rpc::append_envelope(reencoded, envelope.flags, envelope.payload);
      (void)coral::rpc::parse_grpc_web_trailers(envelope.payload);
    }
    if (body.substr(0, reencoded.size()) != reencoded) __builtin_trap();
    if (split_run.partial != (reencoded.size() < body.size())) __builtin_trap();
  }
  if (split_run.failed != whole_run.failed) __builtin_trap();
  if (!split_run.failed && split_run.envelopes.size() != whole_run.envelopes.size()) __builtin_trap();
  return 0;
}
