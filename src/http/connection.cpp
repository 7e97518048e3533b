#include "http/connection.h"

#include <array>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace coral::http {
namespace {
constexpr std::size_t kReadBuffer = 64 * 1024;
}

Connection::Connection(boost::asio::any_io_executor executor, std::unique_ptr<ByteStream> stream,
                       ConnectionOptions options)
    : executor_(executor),
      stream_(std::move(stream)),
      options_(options),
      wake_timer_(executor, boost::asio::steady_timer::time_point::max()),
      idle_timer_(executor) {}

Connection::~Connection() = default;

Wake Connection::waker() {
  return [this] { wake_timer_.cancel(); };
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
  boost::asio::co_spawn(executor_, idle_watch(), done);
}

void Connection::close() {
  if (closed_) return;
  closed_ = true;
  stream_->close();
  wake_timer_.cancel();
  idle_timer_.cancel();
}

void Connection::loop_ended() {
  if (--loops_running_ == 0 && on_closed) {
    auto callback = std::move(on_closed);
    callback();
  }
}

Awaitable<void> Connection::read_loop() {
  auto self = shared_from_this();
  std::array<std::byte, kReadBuffer> buffer;
  while (!closed_) {
    auto n = co_await stream_->read_some(buffer);
    if (!n) break;
    read_since_check_ = true;
    if (!codec_->receive(std::span(buffer.data(), *n))) {
      // The codec queued its last words (400, GOAWAY); the writer flushes
      // them and closes because wants_close() is now true.
      wake_timer_.cancel();
      co_return;
    }
    wake_timer_.cancel();
  }
  codec_->connection_lost();
  close();
}

Awaitable<void> Connection::write_loop() {
  auto self = shared_from_this();
  while (!closed_) {
    const Bytes out = codec_->next_output();
    if (!out.empty()) {
      if (co_await stream_->write(out)) break;
      continue;
    }
    if (codec_->wants_close()) break;
    boost::system::error_code ec;
    wake_timer_.expires_at(boost::asio::steady_timer::time_point::max());
    co_await wake_timer_.async_wait(boost::asio::redirect_error(boost::asio::use_awaitable, ec));
  }
  if (!closed_) {
    codec_->connection_lost();
    close();
  }
}

Awaitable<void> Connection::idle_watch() {
  auto self = shared_from_this();
  while (!closed_) {
    boost::system::error_code ec;
    idle_timer_.expires_after(options_.idle_timeout);
    co_await idle_timer_.async_wait(boost::asio::redirect_error(boost::asio::use_awaitable, ec));
    if (closed_) break;
    if (!read_since_check_ && (codec_->idle() || codec_->waiting_for_peer())) {
      codec_->connection_lost();
      close();
      break;
    }
    read_since_check_ = false;
  }
}

}  // namespace coral::http
