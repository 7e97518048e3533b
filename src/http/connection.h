#pragma once
// Drives one sans-I/O codec over one net::ByteStream: a reader loop feeds the
// codec what arrives, a writer loop writes what the codec produces and
// sleeps until the codec's Wake says there is more, and a watchdog closes
// connections whose peer is too slow (idle, or trickling a request head).
// All run on the executor the connection was made with; nothing here is
// thread-safe.
//
// Reading stops while the output the peer has not taken yet (the write in
// progress plus Codec::buffered_output()) is above the high watermark, until
// it falls below the low one, and while Codec::read_paused(): a client that
// does not read its responses gets TCP backpressure instead of making us
// buffer without bound.

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/steady_timer.hpp>

#include "http/codec.h"
#include "net/stream.h"

namespace coral::http {

struct ConnectionOptions {
  // A connection that reads nothing for this long while it is idle, or while
  // a request is only partly received, is closed (slow or abandoned clients).
  std::chrono::milliseconds idle_timeout{60'000};
  // A request head (Codec::reading_head) must be complete this long after
  // its first byte arrived, however steadily it trickles in.
  std::chrono::milliseconds head_timeout{10'000};
  // While a request body is owed (Codec::reading_body, and we are reading),
  // it must arrive at this average rate once body_rate_grace has passed,
  // however steadily it trickles in (as Kestrel's MinRequestBodyDataRate).
  // Time while we stop reading (a paused body, output above the watermark)
  // does not count. 0 turns the check off.
  std::size_t min_body_rate = 240;  // bytes per second
  std::chrono::milliseconds body_rate_grace{10'000};
  // Output not yet taken by the peer above which reading stops, and below
  // which it resumes.
  std::size_t output_high_watermark = 256 * 1024;
  std::size_t output_low_watermark = 64 * 1024;
};

// Why a connection was closed by us rather than by its peer.
enum class CloseReason : std::uint8_t {
  none,          // still open, or closed by the peer or by close()
  idle_timeout,  // silent for idle_timeout while idle or owed request bytes
  head_timeout,  // a request head took longer than head_timeout
  send_stall,    // the peer took none of our queued output for idle_timeout
  slow_body,     // a request body came slower than min_body_rate
  evicted,       // closed to make room for a new connection (server at its cap)
};
std::string_view to_string(CloseReason reason);

class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(boost::asio::any_io_executor executor, std::unique_ptr<net::ByteStream> stream,
             ConnectionOptions options = {});
  ~Connection();

  // The Wake to hand the codec; valid as long as this connection.
  Wake waker();
  // Takes the codec (made with waker()) and starts the loops.
  void start(std::unique_ptr<Codec> codec);
  Codec& codec() { return *codec_; }
  bool closed() const { return closed_; }
  CloseReason close_reason() const { return close_reason_; }
  // Since when this connection has been waiting on its client with nothing
  // of ours in progress: still sending a request head, idle (nothing
  // received yet counts), or owing request bytes while we owe it nothing
  // (since its last byte). nullopt while a request is being served and
  // answered, and once closed. A server over its connection cap closes the
  // one waiting longest.
  std::optional<std::chrono::steady_clock::time_point> waiting_since() const;
  const net::ByteStream& stream() const { return *stream_; }
  // Closes the stream at once; open streams are reset.
  void close();
  // close(), remembering `reason`.
  void expire(CloseReason reason);
  // Called once, after every loop ended.
  std::function<void()> on_closed;

 private:
  net::Awaitable<void> read_loop();
  net::Awaitable<void> write_loop();
  net::Awaitable<void> watchdog();
  // Waits until reading is allowed (see the file comment).
  net::Awaitable<void> read_gate();
  bool may_read();
  void after_receive(std::size_t bytes, bool body_owed);
  // The minimum body rate check, once per tick while a body is owed; true
  // when the connection was closed for it.
  bool body_too_slow(std::chrono::steady_clock::time_point now);
  void loop_ended();

  boost::asio::any_io_executor executor_;
  std::unique_ptr<net::ByteStream> stream_;
  ConnectionOptions options_;
  std::unique_ptr<Codec> codec_;
  boost::asio::steady_timer wake_timer_;   // the writer sleeps on it
  boost::asio::steady_timer gate_timer_;   // the reader sleeps on it while reading is stopped
  boost::asio::steady_timer watch_timer_;  // the watchdog's next deadline
  // Small at first (most connections carry small requests, and an idle one
  // keeps its buffer while its read is pending); grows once a read fills it.
  std::vector<std::byte> read_buffer_;
  std::chrono::steady_clock::time_point last_read_;
  std::optional<std::chrono::steady_clock::time_point> head_since_;  // first byte of the head in progress
  // The body rate: time spent owed a body while reading, and what came in it.
  std::optional<std::chrono::steady_clock::time_point> body_tick_;  // last tick while a body was owed
  std::chrono::steady_clock::duration body_time_{};
  std::uint64_t body_bytes_ = 0;
  std::size_t writing_ = 0;     // bytes of the write in progress
  bool output_blocked_ = false;  // above the high watermark, not yet below the low one
  bool closed_ = false;
  CloseReason close_reason_ = CloseReason::none;
  int loops_running_ = 0;
};

}  // namespace coral::http
