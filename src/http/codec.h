#pragma once
// Sans-I/O HTTP connection codecs: bytes in, bytes and callbacks out.
//
// A codec owns the protocol state of one connection (HTTP/1.1 or HTTP/2,
// server or client side). The I/O layer (connection.h) feeds it what the
// socket read, writes what next_output() returns, and closes the socket when
// wants_close() says so. Codecs never touch sockets, timers or threads, and
// every call on one codec, and on the writers and handlers it hands out,
// happens on the thread that owns the connection.
//
// Because response bodies may be produced later, outside receive() (an RPC
// handler resuming after a timer, say), every codec takes a `Wake` callback
// that it calls whenever new output becomes available; the I/O layer then
// calls next_output() again.

#include <cstddef>
#include <cstdint>
#include <expected>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "http/message.h"

namespace coral::http {

using Bytes = std::span<const std::byte>;
using Wake = std::function<void()>;

inline Bytes as_bytes(std::string_view text) { return {reinterpret_cast<const std::byte*>(text.data()), text.size()}; }
inline std::string_view as_chars(Bytes bytes) { return {reinterpret_cast<const char*>(bytes.data()), bytes.size()}; }

enum class CodecError {
  protocol,         // the peer broke HTTP framing rules
  header_too_large, // a header block exceeded the codec's limit
  closed,           // input arrived after the codec decided to close
};
std::string_view to_string(CodecError error);

class Codec {
 public:
  virtual ~Codec() = default;

  // Consumes all of `input`. On error the connection is finished: the caller
  // flushes next_output() (which may hold an error response or GOAWAY) and
  // closes.
  virtual std::expected<void, CodecError> receive(Bytes input) = 0;

  // Bytes to write next, empty when nothing is pending. They stay valid
  // until the next call on this codec, and the caller writes all of them
  // before calling next_output() again.
  virtual Bytes next_output() = 0;

  // True once the connection should be closed after the pending output is
  // flushed (h1 "Connection: close", h2 GOAWAY sent and no open streams...).
  virtual bool wants_close() const = 0;

  // Graceful shutdown: stop accepting new requests (h2 GOAWAY; h1 close
  // after the response in progress); open streams may finish.
  virtual void shutdown() = 0;

  // True when no request is in progress.
  virtual bool idle() const = 0;

  // True while a request is only partly received: the peer owes us bytes.
  // The I/O layer closes a connection that stays silent in this state (and
  // when idle), so a client cannot hold it with a half-sent request.
  virtual bool waiting_for_peer() const { return false; }

  // True while a request head has begun and is not complete (h1: from the
  // first byte of a request to the end of its header block; h2: until the
  // client's preface and first SETTINGS arrived, and while a stream's
  // HEADERS/CONTINUATION block is incomplete). The I/O layer closes a
  // connection that stays in this state longer than its head timeout, so a
  // client cannot hold it by trickling a head byte by byte.
  virtual bool reading_head() const { return false; }

  // True while a request's head is complete and its body is owed by the
  // peer and not paused by us (h1: the request in progress; h2: any stream
  // whose body is open and not paused). The I/O layer closes a connection
  // whose client sends such a body slower than its minimum rate, so a
  // client cannot hold it by trickling a body byte by byte.
  virtual bool reading_body() const { return false; }

  // Response bytes the codec holds that the I/O layer could write at once.
  // While the sum of these and the bytes being written exceeds its high
  // watermark, the I/O layer stops reading (TCP backpressure: no new
  // requests start) until it drops below the low watermark. h2 answers 0:
  // its queued bytes wait for the peer's flow-control window, which only a
  // read can open, so stopping reads for them would deadlock; the writer's
  // connection_queued_bytes() bounds them instead.
  virtual std::size_t buffered_output() const { return 0; }

  // Response bytes waiting for the peer to take them, flow-control credit
  // included (h1: buffered_output(); h2: every stream's queued body), and a
  // count of response bytes the peer has taken so far. The I/O layer closes
  // a connection whose peer takes nothing of a non-empty queue for a whole
  // idle timeout (a client holding answers it never reads).
  virtual std::size_t output_owed() const { return buffered_output(); }
  virtual std::uint64_t output_taken() const { return 0; }

  // True while the application paused a request body that only a read would
  // deliver (h1 pause_body): the I/O layer stops reading until it changes,
  // which the codec announces through its Wake.
  virtual bool read_paused() const { return false; }

  // The peer's end of the connection is gone: reset every open stream.
  virtual void connection_lost() = 0;
};

// ---------------------------------------------------------------- server side

// The application's writer for one response. Owned by the codec; valid until
// the RequestHandler it was handed with is destroyed. Once the stream is
// reset, every call is a no-op.
class ResponseWriter {
 public:
  virtual ~ResponseWriter() = default;
  virtual void send_head(ResponseHead head, bool end_stream) = 0;
  // Copies `data`.
  virtual void send_data(Bytes data, bool end_stream) = 0;
  // Ends the response with trailers (h1: needs a chunked response, which the
  // h1 codec picks when the head carries no content-length).
  virtual void send_trailers(Fields trailers) = 0;
  // Aborts the response (h2: RST_STREAM; h1: closes the connection).
  virtual void reset() = 0;
  // Bytes accepted by send_data() that the codec has not yet handed to the
  // I/O layer; a streaming producer waits for on_drained() when this grows.
  virtual std::size_t queued_bytes() const = 0;
  // Bytes queued on the whole connection, this response's included (h2: all
  // streams' bodies waiting for flow-control credit; h1, one response at a
  // time: queued_bytes()). A producer that waits while this is high is told
  // on_drained() when it falls, so one connection holds a bounded amount
  // however many streams it opens.
  virtual std::size_t connection_queued_bytes() const { return queued_bytes(); }
  // Backpressure on the request body: while paused, the codec stops giving
  // the peer credit for more of this request's body (h2: no WINDOW_UPDATE
  // for the stream; h1: the connection stops reading), so a handler that
  // cannot pass the body on (a stalled upstream) buffers at most what was
  // already in flight. Bytes already received are still delivered.
  // Resuming restores the credit. Default: no pausing.
  virtual void pause_body(bool paused) { (void)paused; }
};

// The application's side of one request. Created by Application::on_request
// and owned by the codec, which destroys it once the exchange is over: after
// the response ended and the request was fully received, or after
// on_reset().
class RequestHandler {
 public:
  virtual ~RequestHandler() = default;
  virtual void on_body(Bytes chunk) = 0;
  // The request is complete (any request trailers are dropped).
  virtual void on_end() = 0;
  // The peer aborted or the connection died; the writer must not be used
  // after this returns.
  virtual void on_reset() = 0;
  // queued_bytes() dropped to zero, or (after the handler read
  // connection_queued_bytes()) the connection's queued bytes fell: a
  // producer may write more. May be called when nothing changed for it.
  virtual void on_drained() {}
};

class Application {
 public:
  virtual ~Application() = default;
  // Called when a request head is complete. `writer` lives as long as the
  // returned handler.
  virtual std::unique_ptr<RequestHandler> on_request(RequestHead head, ResponseWriter& writer) = 0;
};

class ServerCodec : public Codec {};

struct ServerLimits {
  std::size_t max_header_bytes = 64 * 1024;  // of one request head (431 / stream reset beyond)
  std::uint32_t max_concurrent_streams = 256;  // h2 SETTINGS_MAX_CONCURRENT_STREAMS
};

// Serves HTTP/1.1 and HTTP/2 on one cleartext port: a connection that opens
// with the HTTP/2 preface is h2c with prior knowledge, anything else is
// HTTP/1.1, which may switch to h2c through "Upgrade: h2c".
// `remote` is copied into every RequestHead::remote.
std::unique_ptr<ServerCodec> make_server_codec(Application& app, Wake wake, ServerLimits limits = {},
                                               std::string remote = {});

// ---------------------------------------------------------------- client side

// The caller's writer for a request body. Owned by the codec; valid until the
// ResponseHandler's on_end() or on_reset() has been called.
class RequestWriter {
 public:
  virtual ~RequestWriter() = default;
  virtual void send_data(Bytes data, bool end_stream) = 0;
  virtual void reset() = 0;
  virtual std::size_t queued_bytes() const = 0;
  // Backpressure on the response body: while paused, the codec stops giving
  // the server credit for more of this response (h2: no WINDOW_UPDATE for
  // the stream), so a caller that cannot pass the response on (a client
  // that does not read) holds at most what was already in flight. Bytes
  // already received are still delivered. Default: no pausing.
  virtual void pause_response(bool paused) { (void)paused; }
};

// The caller's side of one response. on_end() or on_reset() ends it; exactly
// one of them is called, once.
class ResponseHandler {
 public:
  virtual ~ResponseHandler() = default;
  virtual void on_head(ResponseHead head) = 0;
  virtual void on_body(Bytes chunk) = 0;
  virtual void on_trailers(Fields trailers) = 0;
  virtual void on_end() = 0;
  virtual void on_reset(std::string reason) = 0;
  virtual void on_drained() {}
};

class ClientCodec : public Codec {
 public:
  // h1: no request in flight; h2: below the peer's stream limit, no GOAWAY.
  virtual bool can_start_request() const = 0;
  // Sends a request head (end_stream: no body follows). The codec keeps
  // `handler` until it has called on_end() or on_reset().
  virtual RequestWriter& start_request(RequestHead head, bool end_stream,
                                       std::shared_ptr<ResponseHandler> handler) = 0;
};

std::unique_ptr<ClientCodec> make_h1_client_codec(Wake wake);
// h2c with prior knowledge.
std::unique_ptr<ClientCodec> make_h2_client_codec(Wake wake);

}  // namespace coral::http
