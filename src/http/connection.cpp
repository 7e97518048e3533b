#include "http/connection.h"

#include <algorithm>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace coral::http {
namespace {
using Clock = std::chrono::steady_clock;
constexpr std::size_t kFirstReadBuffer = 4 * 1024;
constexpr std::size_t kMaxReadBuffer = 64 * 1024;

net::Awaitable<void> sleep_on(boost::asio::steady_timer& timer, Clock::time_point until) {
  boost::system::error_code ec;
  timer.expires_at(until);
  co_await timer.async_wait(boost::asio::redirect_error(boost::asio::use_awaitable, ec));
}
}  // namespace

std::string_view to_string(CloseReason reason) {
  switch (reason) {
    case CloseReason::none: return "none";
    case CloseReason::idle_timeout: return "idle_timeout";
    case CloseReason::head_timeout: return "head_timeout";
    case CloseReason::send_stall: return "send_stall";
    case CloseReason::slow_body: return "slow_body";
    case CloseReason::evicted: return "evicted";
  }
  return "?";
}

Connection::Connection(boost::asio::any_io_executor executor, std::unique_ptr<net::ByteStream> stream,
                       ConnectionOptions options)
    : executor_(executor),
      stream_(std::move(stream)),
      options_(options),
      wake_timer_(executor, Clock::time_point::max()),
      gate_timer_(executor, Clock::time_point::max()),
      watch_timer_(executor),
      last_read_(Clock::now()) {}

Connection::~Connection() = default;

Wake Connection::waker() {
  // New output for the writer; maybe a paused body resumed for the reader.
  return [this] {
    wake_timer_.cancel();
    gate_timer_.cancel();
  };
}

void Connection::start(std::unique_ptr<Codec> codec) {
  codec_ = std::move(codec);
  auto self = shared_from_this();
  loops_running_ = 3;
  auto done = [self](std::exception_ptr error) {
    if (error) std::rethrow_exception(error);  // a bug, not input: crash loudly
    self->loop_ended();
  };
  boost::asio::co_spawn(executor_, read_loop(), done);
  boost::asio::co_spawn(executor_, write_loop(), done);
  boost::asio::co_spawn(executor_, watchdog(), done);
}

void Connection::close() {
  if (closed_) return;
  closed_ = true;
  stream_->close();
  wake_timer_.cancel();
  gate_timer_.cancel();
  watch_timer_.cancel();
}

void Connection::loop_ended() {
  if (--loops_running_ == 0 && on_closed) {
    auto callback = std::move(on_closed);
    callback();
  }
}

bool Connection::may_read() {
  const std::size_t pending = writing_ + codec_->buffered_output();
  if (output_blocked_ && pending <= options_.output_low_watermark) output_blocked_ = false;
  if (!output_blocked_ && pending > options_.output_high_watermark) output_blocked_ = true;
  return !output_blocked_ && !codec_->read_paused();
}

net::Awaitable<void> Connection::read_gate() {
  // Woken by the writer after each write and by the codec's Wake; bounded
  // by close(), which cancels the timer.
  while (!closed_ && !may_read()) co_await sleep_on(gate_timer_, Clock::time_point::max());
}

void Connection::after_receive(std::size_t bytes, bool body_owed) {
  last_read_ = Clock::now();
  if (body_owed) body_bytes_ += bytes;
  if (!body_tick_ && options_.min_body_rate > 0 && codec_->reading_body()) {
    body_tick_ = last_read_;
    watch_timer_.cancel();  // the watchdog starts ticking
  }
  if (!codec_->reading_head()) {
    head_since_.reset();
  } else if (!head_since_) {
    head_since_ = last_read_;
    watch_timer_.cancel();  // the watchdog takes the earlier deadline
  }
}

net::Awaitable<void> Connection::read_loop() {
  auto self = shared_from_this();
  read_buffer_.resize(kFirstReadBuffer);
  while (!closed_) {
    co_await read_gate();
    if (closed_) break;
    auto n = co_await stream_->read_some(read_buffer_);
    if (!n) break;
    const bool body_owed = codec_->reading_body();
    auto received = codec_->receive(std::span(read_buffer_.data(), *n));
    after_receive(*n, body_owed);
    wake_timer_.cancel();
    // The codec queued its last words (400, GOAWAY); the writer flushes
    // them and closes because wants_close() is now true.
    if (!received) co_return;
    if (*n == read_buffer_.size() && read_buffer_.size() < kMaxReadBuffer) read_buffer_.resize(kMaxReadBuffer);
  }
  codec_->connection_lost();
  close();
}

net::Awaitable<void> Connection::write_loop() {
  auto self = shared_from_this();
  while (!closed_) {
    const Bytes out = codec_->next_output();
    if (!out.empty()) {
      writing_ = out.size();
      const auto failed = co_await stream_->write(out);
      writing_ = 0;
      gate_timer_.cancel();  // the reader may be waiting for the output to drain
      if (failed) break;
      continue;
    }
    if (codec_->wants_close()) break;
    gate_timer_.cancel();  // next_output() may have resumed a paused body
    co_await sleep_on(wake_timer_, Clock::time_point::max());
  }
  if (!closed_) {
    codec_->connection_lost();
    close();
  }
}

void Connection::expire(CloseReason reason) {
  if (closed_) return;
  close_reason_ = reason;
  codec_->connection_lost();
  close();
}

std::optional<Clock::time_point> Connection::waiting_since() const {
  if (closed_ || !codec_) return std::nullopt;
  if (head_since_) return head_since_;
  // Idle, or an h2 connection whose preface has not come yet.
  if (codec_->idle() || codec_->reading_head()) return last_read_;
  // Owed request bytes with nothing of ours to send: a trickled body.
  if (codec_->reading_body() && codec_->output_owed() == 0 && writing_ == 0) return last_read_;
  return std::nullopt;
}

bool Connection::body_too_slow(Clock::time_point now) {
  if (!body_tick_) return false;
  if (!codec_->reading_body()) {
    body_tick_.reset();  // that body is complete (or paused for good): start again with the next
    body_time_ = {};
    body_bytes_ = 0;
    return false;
  }
  if (may_read()) body_time_ += now - *body_tick_;
  body_tick_ = now;
  if (body_time_ < options_.body_rate_grace) return false;
  const double seconds = std::chrono::duration<double>(body_time_).count();
  if (double(body_bytes_) >= seconds * double(options_.min_body_rate)) return false;
  expire(CloseReason::slow_body);
  return true;
}

net::Awaitable<void> Connection::watchdog() {
  auto self = shared_from_this();
  // A busy connection (a response streaming while the client sends nothing)
  // is not idle: look again one idle period later.
  auto idle_check = last_read_ + options_.idle_timeout;
  // Every idle period, whatever the peer sends (PINGs, say): output owed to
  // the peer, of which it took nothing since the last check, is a stall.
  auto stall_check = Clock::now() + options_.idle_timeout;
  std::optional<std::uint64_t> taken_at_check;  // set while output was owed at the last check
  while (!closed_) {
    const auto now = Clock::now();
    if (head_since_ && now >= *head_since_ + options_.head_timeout) {
      expire(CloseReason::head_timeout);
      break;
    }
    idle_check = std::max(idle_check, last_read_ + options_.idle_timeout);
    if (now >= idle_check) {
      if (codec_->idle() || codec_->waiting_for_peer()) {
        expire(CloseReason::idle_timeout);
        break;
      }
      idle_check = now + options_.idle_timeout;
    }
    if (body_too_slow(now)) break;
    if (now >= stall_check) {
      const bool owed = codec_->output_owed() > 0;
      const std::uint64_t taken = codec_->output_taken();
      if (owed && taken_at_check == taken) {
        expire(CloseReason::send_stall);
        break;
      }
      taken_at_check = owed ? std::optional(taken) : std::nullopt;
      stall_check = now + options_.idle_timeout;
    }
    auto deadline = std::min(idle_check, stall_check);
    if (head_since_) deadline = std::min(deadline, *head_since_ + options_.head_timeout);
    if (body_tick_) deadline = std::min(deadline, now + std::chrono::seconds(1));
    co_await sleep_on(watch_timer_, deadline);
  }
}

}  // namespace coral::http
