#pragma once
// The process's lwIP core (docs/netstack.md). lwIP keeps its state in
// globals: one TCP/IP core per process, holding every stack's interface,
// driven from one io_context thread (lwIP's NO_SYS mode: no thread of its
// own). The core exists while a stack uses it; stacks on another
// io_context are refused.
//
// Internal to src/netstack: code above uses netstack/stack.h.

#include <chrono>
#include <cstdint>
#include <memory>
#include <system_error>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

struct netif;

namespace coral::netstack::detail {

class Core : public std::enable_shared_from_this<Core> {
 public:
  // The core for `io`: the one in use, or a new one when none is. nullptr
  // when a core is in use on another io_context.
  static std::shared_ptr<Core> acquire(boost::asio::io_context& io);
  ~Core();
  Core(const Core&) = delete;
  Core& operator=(const Core&) = delete;

  boost::asio::io_context& io() const { return io_; }

  // Marks a call into lwIP: packets lwIP emits while one is open are
  // collected, and leave (each stack's in one batch) when the outermost one
  // closes; then lwIP's next timeout is scheduled.
  class Batch {
   public:
    // `deferred`: the packets leave from a fresh handler on the io_context
    // rather than when the batch closes. For input handed in by the
    // WireGuard device, which is in the middle of its own output then.
    enum class Flush { on_close, deferred };
    explicit Batch(Core& core, Flush flush = Flush::on_close);
    ~Batch();
    Batch(const Batch&) = delete;
    Batch& operator=(const Batch&) = delete;

   private:
    Core& core_;
    Flush flush_;
  };

  // What has packets to send when the batch closes (a stack's interface).
  class Sink {
   public:
    virtual void flush() = 0;

   protected:
    ~Sink() = default;
  };
  // `sink` is flushed when the current batch closes (once however often
  // it is queued). forget() before `sink` goes away.
  void queue(Sink* sink);
  void forget(Sink* sink);

 private:
  explicit Core(boost::asio::io_context& io);
  void close_batch(Batch::Flush flush);
  void flush_queued();
  void schedule();

  boost::asio::io_context& io_;
  boost::asio::steady_timer timer_;
  std::chrono::steady_clock::time_point armed_for_ = std::chrono::steady_clock::time_point::max();
  int depth_ = 0;
  bool deferred_pending_ = false;  // a batch asked for a deferred flush
  bool flush_posted_ = false;
  std::vector<Sink*> queued_;
};

// lwIP's err_t as a std::error_code (the system's values where they fit).
std::error_code to_error_code(signed char lwip_error);

}  // namespace coral::netstack::detail
