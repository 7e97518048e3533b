#pragma once
// What the HTTP codec fuzzers share: a reader over the input, a server
// Application whose requests answer in every way the RPC layer and the proxy
// answer (at once, streaming, later from outside receive(), early, reset,
// with backpressure), a client response handler that checks the codec's
// contract, and an HTTP/2 frame writer for structure-aware inputs.
//
// Oracles (besides ASan and UBSan): a codec calls a request handler's
// on_body/on_end only before the request ended and never after on_reset; a
// client codec ends each response exactly once (on_end or on_reset), with no
// callback after that; after connection_lost() no exchange is left open.

#include <nghttp2/nghttp2.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "http/codec.h"

namespace coral::fuzz {

inline void require(bool ok, const char* what) {
  if (ok) return;
  std::fprintf(stderr, "http fuzz: oracle failed: %s\n", what);
  __builtin_trap();
}

// Consumes the fuzzer's bytes; past the end it reads zeros.
class Reader {
 public:
  Reader(const std::uint8_t* data, std::size_t size) : data_(data), size_(size) {}
  bool empty() const { return at_ >= size_; }
  std::uint8_t byte() { return at_ < size_ ? data_[at_++] : 0; }
  std::string_view bytes(std::size_t n) {
    n = std::min(n, size_ - std::min(at_, size_));
    std::string_view out(reinterpret_cast<const char*>(data_) + at_, n);
    at_ += n;
    return out;
  }
  std::string_view rest() { return bytes(size_); }

 private:
  const std::uint8_t* data_;
  std::size_t size_;
  std::size_t at_ = 0;
};

// Chunk sizes for feeding a byte stream: 1..2^k bytes from a small
// deterministic generator, so that one input always splits the same way.
class Splitter {
 public:
  explicit Splitter(std::uint8_t seed) : state_(0x9e3779b9u ^ (seed * 0x01000193u)), shift_(seed % 12) {}
  std::size_t next() {
    state_ ^= state_ << 13;
    state_ ^= state_ >> 17;
    state_ ^= state_ << 5;
    return 1 + state_ % (std::size_t{1} << shift_);
  }

 private:
  std::uint32_t state_;
  unsigned shift_;
};

// Writes everything the codec has to say (bounded: a codec that never stops
// producing is a bug too).
inline std::size_t drain(http::Codec& codec) {
  std::size_t total = 0;
  for (int round = 0; round < 100000; ++round) {
    const http::Bytes out = codec.next_output();
    if (out.empty()) return total;
    total += out.size();
  }
  require(false, "next_output() never runs dry");
  return total;
}

// ---------------------------------------------------------------- server side

// How a request is answered: picked from its path, so that the fuzzer
// steers it with the bytes it sends.
enum class Answer : std::uint8_t {
  at_end,         // head + content-length body once the request ended
  streaming,      // head at the first body chunk, echo each chunk, trailers at the end
  later,          // from tick(), outside receive(): head, body in pieces, end
  later_trailers, // from tick(): head, a large body under backpressure, trailers
  early,          // answered and ended before the request body ended
  reset_at_end,   // writer.reset() once the request ended
  reset_later,    // writer.reset() from tick()
  paused,         // pause_body(true) at once, resumed from tick(), then at_end
  count,
};

class ServerApp final : public http::Application {
 public:
  struct Exchange final : http::RequestHandler {
    ServerApp& app;
    http::ResponseWriter& writer;
    Answer answer;
    bool request_ended = false;
    bool reset = false;
    bool head_sent = false;
    bool response_ended = false;
    std::size_t body_bytes = 0;
    std::size_t later_steps = 0;

    Exchange(ServerApp& a, http::ResponseWriter& w, Answer how) : app(a), writer(w), answer(how) {
      app.live.insert(this);
      if (answer == Answer::paused) writer.pause_body(true);
    }
    ~Exchange() override { app.live.erase(this); }

    void on_body(http::Bytes chunk) override {
      require(!reset && !request_ended, "on_body after the request ended or was reset");
      body_bytes += chunk.size();
      if (answer == Answer::streaming && !response_ended) {
        if (!head_sent) send_head(false, false);
        writer.send_data(chunk, false);
      }
      if (answer == Answer::early && !head_sent) {
        send_head(true, true);
      }
    }
    void on_end() override {
      require(!reset && !request_ended, "on_end twice, or after on_reset");
      request_ended = true;
      switch (answer) {
        case Answer::at_end:
        case Answer::paused: {
          if (head_sent) break;
          const std::string body = "echo " + std::to_string(body_bytes);
          writer.send_head(http::ResponseHead{200, {{"content-length", std::to_string(body.size())},
                                                   {"content-type", "text/plain"}}},
                           false);
          head_sent = true;
          finish_body(body);
          break;
        }
        case Answer::streaming:
          if (response_ended) break;
          if (!head_sent) send_head(false, false);
          writer.send_trailers({{"grpc-status", "0"}, {"x-bytes", std::to_string(body_bytes)}});
          response_ended = true;
          break;
        case Answer::early:
          if (!head_sent) send_head(true, true);
          break;
        case Answer::reset_at_end:
          writer.reset();
          break;
        default:
          break;  // answered from tick()
      }
    }
    void on_reset() override {
      require(!reset, "on_reset twice");
      reset = true;
    }
    void on_drained() override { require(!reset, "on_drained after on_reset"); }

    void send_head(bool empty, bool end) {
      http::Fields fields{{"content-type", "application/grpc"}};
      if (empty) fields.push_back({"content-length", "0"});
      writer.send_head(http::ResponseHead{empty ? 429 : 200, std::move(fields)}, end);
      head_sent = true;
      response_ended = end;
    }
    void finish_body(const std::string& body) {
      writer.send_data(http::as_bytes(body), true);
      response_ended = true;
    }

    // Work done outside receive(), as a handler resuming after a timer.
    void tick() {
      if (reset || response_ended) return;
      ++later_steps;
      switch (answer) {
        case Answer::paused:
          writer.pause_body(false);
          break;
        case Answer::reset_later:
          writer.reset();
          response_ended = true;
          break;
        case Answer::later:
          if (!head_sent) {
            send_head(false, false);
          } else if (later_steps < 4) {
            writer.send_data(http::as_bytes("piece"), false);
          } else if (request_ended) {
            writer.send_data(http::as_bytes("last"), true);
            response_ended = true;
          }
          break;
        case Answer::later_trailers: {
          if (!head_sent) send_head(false, false);
          // 64 KiB pieces while the codec holds less than 256 KiB: a large
          // body that the peer's flow control may hold back.
          static const std::string kPiece(64 * 1024, 'x');
          if (writer.queued_bytes() < 256 * 1024 && later_steps < 8) writer.send_data(http::as_bytes(kPiece), false);
          if (later_steps >= 8 && request_ended) {
            writer.send_trailers({{"grpc-status", "0"}});
            response_ended = true;
          }
          break;
        }
        default:
          break;
      }
    }
  };

  std::unique_ptr<http::RequestHandler> on_request(http::RequestHead head, http::ResponseWriter& writer) override {
    unsigned sum = 0;
    for (const char c : head.path) sum += static_cast<unsigned char>(c);
    ++requests;
    return std::make_unique<Exchange>(*this, writer,
                                      static_cast<Answer>(sum % static_cast<unsigned>(Answer::count)));
  }

  // Advances every open exchange once. Exchanges may go away meanwhile (a
  // reset can end one), so walk a copy and skip those already gone.
  void tick() {
    const std::vector<Exchange*> snapshot(live.begin(), live.end());
    for (Exchange* exchange : snapshot) {
      if (live.count(exchange)) exchange->tick();
    }
  }

  // The codec's contract after connection_lost(): nothing left open.
  void check_all_closed() const {
    for (const Exchange* exchange : live) {
      require(exchange->reset || (exchange->request_ended && exchange->response_ended),
              "an exchange is still open after connection_lost()");
    }
  }

  std::set<Exchange*> live;
  std::size_t requests = 0;
};

// The end of a server fuzz input: lets the open exchanges finish (bounded),
// loses the connection, and checks that the codec left nothing open.
inline void finish_server(ServerApp& app, std::unique_ptr<http::ServerCodec> codec) {
  for (int round = 0; round < 12 && !app.live.empty(); ++round) {
    app.tick();
    drain(*codec);
  }
  (void)codec->idle();
  (void)codec->waiting_for_peer();
  codec->connection_lost();
  app.check_all_closed();
  codec.reset();
  require(app.live.empty(), "the codec left request handlers behind");
}

// ---------------------------------------------------------------- client side

class Response final : public http::ResponseHandler {
 public:
  void on_head(http::ResponseHead head) override {
    require(!done, "on_head after the response ended");
    status = head.status;
    ++heads;
  }
  void on_body(http::Bytes chunk) override {
    require(!done, "on_body after the response ended");
    body_bytes += chunk.size();
  }
  void on_trailers(http::Fields) override { require(!done, "on_trailers after the response ended"); }
  void on_end() override {
    require(!done, "a response ended twice");
    done = true;
  }
  void on_reset(std::string) override {
    require(!done, "a response ended twice");
    done = true;
  }

  bool done = false;
  int status = 0;
  int heads = 0;
  std::size_t body_bytes = 0;
};

// ---------------------------------------------------------------- HTTP/2 frames

// Frame ops of the structure-aware HTTP/2 inputs: valid frame headers
// around fuzzed payloads, header blocks made by a real HPACK encoder from
// fuzzed fields, and raw bytes.
//
//   op % 16 < 10   a frame of that type: [flags][stream][length][payload]
//   op % 16 == 10  a header block: [flags][stream][field count][fields...],
//                  each field [name index][value length][value]; HEADERS
//                  with END_HEADERS unless flags & 0x40 (then split into a
//                  HEADERS and a CONTINUATION)
//   op % 16 == 11  raw bytes: [length][bytes]
//   op % 16 == 12  an unknown frame type (op itself)
//   op % 16 >= 13  the application's turn (tick), or, for client fuzzers,
//                  an action (see the fuzzer)
// The stream byte maps to stream ids 0..255 (odd ones are client streams);
// op & 0x10 widens lengths to two bytes.
class FrameWriter {
 public:
  explicit FrameWriter(bool request_fields) : request_fields_(request_fields) {
    nghttp2_hd_deflate_new(&deflater_, 4096);
  }
  ~FrameWriter() { nghttp2_hd_deflate_del(deflater_); }
  FrameWriter(const FrameWriter&) = delete;
  FrameWriter& operator=(const FrameWriter&) = delete;

  static void frame(std::string& out, std::uint8_t type, std::uint8_t flags, std::uint32_t stream,
                    std::string_view payload) {
    const std::size_t n = payload.size();
    const char header[9] = {char(n >> 16), char(n >> 8), char(n), char(type), char(flags),
                            char((stream >> 24) & 0x7f), char(stream >> 16), char(stream >> 8), char(stream)};
    out.append(header, 9);
    out.append(payload);
  }

  // Appends the bytes of one op to `out`; false when the op is not a frame
  // op (the caller's turn).
  bool write(std::uint8_t op, Reader& in, std::string& out) {
    const bool wide = op & 0x10;
    const std::uint8_t kind = op % 16;
    const auto length = [&] { return wide ? (std::size_t{in.byte()} << 8 | in.byte()) : in.byte(); };
    if (kind < 10 || kind == 12) {
      const std::uint8_t flags = in.byte();
      const std::uint8_t stream = in.byte();
      const std::string_view payload = in.bytes(length());
      frame(out, kind < 10 ? kind : op, flags, stream, payload);
      return true;
    }
    if (kind == 10) {
      header_block(in, out);
      return true;
    }
    if (kind == 11) {
      out.append(in.bytes(length()));
      return true;
    }
    return false;
  }

 private:
  void header_block(Reader& in, std::string& out) {
    const std::uint8_t flags = in.byte();
    const std::uint8_t stream = in.byte();
    const std::uint8_t count = in.byte() % 12;
    std::vector<std::string> names;
    std::vector<std::string> values;
    // The usual fields first, with fuzzed values where it matters.
    if (request_fields_) {
      names = {":method", ":scheme", ":path", ":authority"};
      values = {"POST", "http", "/coral.colony.v1.ColonyService/GetStatus", "localhost"};
    } else {
      names = {":status"};
      values = {"200"};
    }
    static const char* const kNames[] = {
        ":method",      ":path",        ":status",    ":authority",       ":scheme",           "content-type",
        "content-length", "te",         "grpc-timeout", "connect-timeout-ms", "connect-protocol-version", "grpc-status",
        "grpc-message", "connection",   "upgrade",    "host",             "transfer-encoding", "x-custom",
        ":protocol",    "cookie",       "Upper",      "",                 "colony-id",         "trailer"};
    constexpr std::size_t kNameCount = sizeof kNames / sizeof kNames[0];
    for (std::uint8_t i = 0; i < count; ++i) {
      const std::uint8_t index = in.byte();
      std::string value(in.bytes(in.byte() % 64));
      const std::string name = kNames[index % kNameCount];
      if (index & 0x80) {  // replaces a usual field
        for (std::size_t j = 0; j < names.size(); ++j) {
          if (names[j] == name) values[j] = value;
        }
      } else {
        names.push_back(name);
        values.push_back(std::move(value));
      }
    }
    std::vector<nghttp2_nv> nva;
    for (std::size_t i = 0; i < names.size(); ++i) {
      nva.push_back(nghttp2_nv{reinterpret_cast<std::uint8_t*>(names[i].data()),
                               reinterpret_cast<std::uint8_t*>(values[i].data()), names[i].size(), values[i].size(),
                               NGHTTP2_NV_FLAG_NONE});
    }
    std::string block(nghttp2_hd_deflate_bound(deflater_, nva.data(), nva.size()), '\0');
    const ssize_t n = nghttp2_hd_deflate_hd(deflater_, reinterpret_cast<std::uint8_t*>(block.data()),
                                                   block.size(), nva.data(), nva.size());
    if (n < 0) return;
    block.resize(static_cast<std::size_t>(n));
    const std::uint8_t base = flags & ~(NGHTTP2_FLAG_END_HEADERS | 0x40);
    if (flags & 0x40) {
      const std::size_t half = block.size() / 2;
      frame(out, NGHTTP2_HEADERS, base, stream, std::string_view(block).substr(0, half));
      frame(out, NGHTTP2_CONTINUATION, NGHTTP2_FLAG_END_HEADERS, stream, std::string_view(block).substr(half));
    } else {
      frame(out, NGHTTP2_HEADERS, base | NGHTTP2_FLAG_END_HEADERS, stream, block);
    }
  }

  nghttp2_hd_deflater* deflater_ = nullptr;
  bool request_fields_;
};

}  // namespace coral::fuzz
