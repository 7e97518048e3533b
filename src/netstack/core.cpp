#include "netstack/core.h"

#include <algorithm>

#include <boost/asio/error.hpp>
#include <boost/asio/post.hpp>

#include "net/error.h"

extern "C" {
#include "lwip/init.h"
#include "lwip/ip.h"
#include "lwip/netif.h"
#include "lwip/timeouts.h"
}

namespace coral::netstack::detail {

namespace {

using Clock = std::chrono::steady_clock;
Core* current = nullptr;
std::weak_ptr<Core> current_owner;
bool lwip_initialized = false;

}  // namespace

std::shared_ptr<Core> Core::acquire(boost::asio::io_context& io) {
  if (auto core = current_owner.lock()) {
    if (&core->io_ != &io) return nullptr;
    return core;
  }
  if (!lwip_initialized) {
    lwip_init();
    lwip_initialized = true;
  }
  std::shared_ptr<Core> core(new Core(io));
  current = core.get();
  current_owner = core;
  return core;
}

Core::Core(boost::asio::io_context& io) : io_(io), timer_(io) { schedule(); }

Core::~Core() {
  if (current == this) current = nullptr;
}

Core::Batch::Batch(Core& core, Flush flush) : core_(core), flush_(flush) { ++core_.depth_; }

Core::Batch::~Batch() {
  if (flush_ == Flush::deferred) core_.deferred_pending_ = true;
  if (--core_.depth_ == 0) core_.close_batch(core_.deferred_pending_ ? Flush::deferred : Flush::on_close);
}

void Core::queue(Sink* output) {
  if (std::find(queued_.begin(), queued_.end(), output) == queued_.end()) queued_.push_back(output);
}

void Core::forget(Sink* output) { std::erase(queued_, output); }

void Core::close_batch(Batch::Flush flush) {
  if (flush == Batch::Flush::deferred) {
    deferred_pending_ = false;
    if (!queued_.empty() && !flush_posted_) {
      flush_posted_ = true;
      boost::asio::post(io_, [weak = weak_from_this()] {
        if (auto self = weak.lock()) {
          self->flush_posted_ = false;
          Batch batch(*self);
        }
      });
    }
    schedule();
    return;
  }
  flush_queued();
  schedule();
}

void Core::flush_queued() {
  // A flush hands packets to the WireGuard device, which encrypts and sends
  // them; the device's answers come back later, from its own handlers.
  // Nothing in the flush opens a batch, but guard against re-entry anyway.
  ++depth_;
  for (std::size_t i = 0; i < queued_.size(); ++i) queued_[i]->flush();
  queued_.clear();
  --depth_;
}

void Core::schedule() {
  const u32_t sleep = sys_timeouts_sleeptime();
  if (sleep == SYS_TIMEOUTS_SLEEPTIME_INFINITE) return;
  const auto deadline = Clock::now() + std::chrono::milliseconds(sleep);
  // Already armed for as soon or sooner (a timer fires at most a tick late).
  if (armed_for_ <= deadline && armed_for_ > Clock::now()) return;
  armed_for_ = deadline;
  timer_.expires_at(deadline);
  timer_.async_wait([this](boost::system::error_code error) {
    if (error) return;  // re-armed, or the core is gone
    armed_for_ = Clock::time_point::max();
    Batch batch(*this);
    sys_check_timeouts();
  });
}

std::error_code to_error_code(signed char lwip_error) {
  switch (lwip_error) {
    case ERR_OK:
      return {};
    case ERR_MEM:
    case ERR_BUF:
      return std::make_error_code(std::errc::no_buffer_space);
    case ERR_TIMEOUT:
      return std::make_error_code(std::errc::timed_out);
    case ERR_RTE:
      return net::Errc::mesh_unreachable;
    case ERR_INPROGRESS:
      return std::make_error_code(std::errc::operation_in_progress);
    case ERR_VAL:
    case ERR_ARG:
      return std::make_error_code(std::errc::invalid_argument);
    case ERR_WOULDBLOCK:
      return std::make_error_code(std::errc::operation_would_block);
    case ERR_USE:
      return std::make_error_code(std::errc::address_in_use);
    case ERR_ALREADY:
      return std::make_error_code(std::errc::connection_already_in_progress);
    case ERR_ISCONN:
      return std::make_error_code(std::errc::already_connected);
    case ERR_CONN:
      return std::make_error_code(std::errc::not_connected);
    case ERR_IF:
      return std::make_error_code(std::errc::network_down);
    case ERR_ABRT:
      return std::make_error_code(std::errc::connection_aborted);
    case ERR_RST:
      return std::make_error_code(std::errc::connection_reset);
    case ERR_CLSD:
      return std::error_code(boost::system::error_code(boost::asio::error::eof));
    default:
      return std::make_error_code(std::errc::io_error);
  }
}

}  // namespace coral::netstack::detail

