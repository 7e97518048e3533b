#pragma once
// Drives one sans-I/O codec over one ByteStream: a reader loop feeds the
// codec what arrives, a writer loop writes what the codec produces and
// sleeps until the codec's Wake says there is more. Both run on the
// executor the connection was made with; nothing here is thread-safe.

#include <chrono>
#include <functional>
#include <memory>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/steady_timer.hpp>

#include "http/codec.h"
#include "http/stream.h"

namespace coral::http {

struct ConnectionOptions {
  // A connection that reads nothing for this long while it is idle, or while
  // a request is only partly received, is closed (slow or abandoned clients).
  std::chrono::milliseconds idle_timeout{60'000};
};

class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(boost::asio::any_io_executor executor, std::unique_ptr<ByteStream> stream,
             ConnectionOptions options = {});
  ~Connection();

  // The Wake to hand the codec; valid as long as this connection.
  Wake waker();
  // Takes the codec (made with waker()) and starts the loops.
  void start(std::unique_ptr<Codec> codec);
  Codec& codec() { return *codec_; }
  bool closed() const { return closed_; }
  const ByteStream& stream() const { return *stream_; }
  // Closes the stream at once; open streams are reset.
  void close();
  // Called once, after both loops ended.
  std::function<void()> on_closed;

 private:
  Awaitable<void> read_loop();
  Awaitable<void> write_loop();
  Awaitable<void> idle_watch();
  void loop_ended();

  boost::asio::any_io_executor executor_;
  std::unique_ptr<ByteStream> stream_;
  ConnectionOptions options_;
  std::unique_ptr<Codec> codec_;
  boost::asio::steady_timer wake_timer_;
  boost::asio::steady_timer idle_timer_;
  bool read_since_check_ = false;
  bool closed_ = false;
  int loops_running_ = 0;
};

}  // namespace coral::http
