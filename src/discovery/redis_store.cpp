// The Redis store.
//
// Data model (one Redis database, the one `SELECT`ed from the URL):
//
//   coral:discovery:colony:<mesh_id>   HASH, one per colony
//       pubkey      the wireguard_pubkey (read by the put script)
//       record      coral.discovery.v1.RegisterColonyRequest, serialized:
//                   every registered field (mesh_id, pubkey, endpoints,
//                   mesh_ipv4/ipv6, connect_port, metadata)
//       last_seen   nanoseconds since the Unix epoch, decimal
//       expires_at  nanoseconds since the Unix epoch, decimal
//       proven      "1" when the registration proved key possession, else
//                   "0" (missing in records written before proofs: "0")
//     with a Redis expiry (PEXPIRE) of expires_at - now, so that Redis itself
//     forgets a lease that is not renewed.
//
//   coral:discovery:leases             SORTED SET
//       member mesh_id, score expires_at in milliseconds since the epoch
//       (rounded up). count_live is ZCOUNT (now, +inf); purge_expired removes
//       the members with score <= now (and their hashes, should Redis not
//       have expired them yet).
//
//   coral:discovery:sizes              HASH mesh_id -> footprint() of its record
//   coral:discovery:bytes              STRING, the sum of coral:discovery:sizes
//     maintained by the put and purge scripts; with ZCARD of the lease index
//     they enforce StoreLimits for all replicas (expired leases count until
//     purged; put purges first when a limit is reached).
//
//   coral:discovery:server_key         STRING, the discovery service's static
//     X25519 private key (base64), set once by the first replica (SET NX) and
//     read by the others, so that every replica verifies every challenge
//     (proof.h). Whoever can write to this Redis can change leases anyway.
//
// Times are the caller's clock (base::Clock), never Redis's TIME: every
// replica decides liveness with the same rule as the memory store, and tests
// can use a FakeClock. Only the Redis key expiry is relative (expires_at -
// now, at least 1 ms), so it follows the lease length whatever the clock.
//
// put() is one Lua script (EVAL), so the takeover rule holds between
// replicas: read the holder, refuse if it is live with another pubkey, else
// replace the hash, set its expiry and index it, all atomically. purge is a
// script too. The scripts build colony key names from the mesh_id, which a
// single Redis (not Redis Cluster) allows.
//
// hiredis is blocking: calls run on a pool of two worker threads, each
// borrowing a connection from a free list (so at most two connections, made
// lazily, with 1 s connect and command timeouts), and the result is posted
// back to the awaiting coroutine's executor. A connection that fails is
// dropped; the next call reconnects. An outage is logged once when it starts
// and once when Redis answers again; while it lasts, reconnection is tried at
// most every 100 ms after a failure and calls in between fail at once (so a
// hung Redis costs one 1 s timeout per probe, not one per queued call).

#include "discovery/redis_store.h"

#include <hiredis/hiredis.h>
#include <arpa/inet.h>
#include <pthread.h>
#include <signal.h>
#include <sys/time.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cctype>
#include <limits>
#include <exception>
#include <mutex>
#include <span>
#include <string_view>
#include <vector>

#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/execution/outstanding_work.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/prefer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "base/log.h"
#include "base/text.h"
#include "coral/discovery/v1/discovery.pb.h"

namespace coral::discovery {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;

constexpr std::string_view kColonyPrefix = "coral:discovery:colony:";
constexpr std::string_view kLeaseIndex = "coral:discovery:leases";
constexpr std::string_view kSizes = "coral:discovery:sizes";
constexpr std::string_view kBytes = "coral:discovery:bytes";
constexpr std::string_view kServerKey = "coral:discovery:server_key";
constexpr auto kConnectTimeout = 1s;
constexpr auto kCommandTimeout = 1s;
constexpr auto kReconnectInterval = 100ms;
constexpr std::size_t kWorkerThreads = 2;

// Times reach the scripts as decimal nanoseconds and are compared as
// strings (longer is later, else lexicographic): exact, where Lua's doubles
// would blur them to 256 ns.
//
// Both scripts start with these functions. purge(index, sizes, bytes, now
// ms, now ns, prefix) forgets the leases whose index score is <= now ms:
// their hashes (unless renewed since), their sizes and their bytes.
constexpr const char* kScriptFunctions = R"lua(
local function later(a, b)
  if #a ~= #b then return #a > #b end
  return a > b
end
local function purge(index, sizes, bytes, now_ms, now_ns, prefix)
  local gone = redis.call('ZRANGEBYSCORE', index, '-inf', now_ms)
  for _, id in ipairs(gone) do
    local key = prefix .. id
    local exp = redis.call('HGET', key, 'expires_at')
    if not exp or not later(exp, now_ns) then
      redis.call('DEL', key)
      local size = redis.call('HGET', sizes, id)
      if size then
        redis.call('DECRBY', bytes, size)
        redis.call('HDEL', sizes, id)
      end
    end
  end
  return redis.call('ZREMRANGEBYSCORE', index, '-inf', now_ms)
end
)lua";

// KEYS[1] colony hash, KEYS[2] lease index, KEYS[3] sizes hash, KEYS[4]
// bytes counter.
// ARGV: pubkey, record, last_seen ns, expires_at ns, now ns, expiry ms,
//       lease index score, mesh_id, proven (1/0), footprint, max records,
//       max bytes, now ms rounded down, colony key prefix.
// Returns {1} when stored, {0, record, last_seen, expires_at, proven} of
// the holder, {2} when the limits are reached.
constexpr const char* kPutBody = R"lua(
local cur = redis.call('HMGET', KEYS[1], 'pubkey', 'expires_at', 'record', 'last_seen', 'proven')
if cur[1] and cur[1] ~= ARGV[1] and cur[2] and later(cur[2], ARGV[5]) and
   not (ARGV[9] == '1' and cur[5] ~= '1') then
  return {0, cur[3], cur[4], cur[2], cur[5] or '0'}
end
local size = tonumber(ARGV[10])
local function fits()
  local old = tonumber(redis.call('HGET', KEYS[3], ARGV[8]) or '0')
  if old == 0 and redis.call('ZCARD', KEYS[2]) >= tonumber(ARGV[11]) then return false end
  local total = tonumber(redis.call('GET', KEYS[4]) or '0')
  return size <= old or total - old + size <= tonumber(ARGV[12])
end
if not fits() then
  purge(KEYS[2], KEYS[3], KEYS[4], ARGV[13], ARGV[5], ARGV[14])
  if not fits() then return {2} end
end
local old = tonumber(redis.call('HGET', KEYS[3], ARGV[8]) or '0')
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'pubkey', ARGV[1], 'record', ARGV[2], 'last_seen', ARGV[3], 'expires_at', ARGV[4],
           'proven', ARGV[9])
redis.call('PEXPIRE', KEYS[1], ARGV[6])
redis.call('ZADD', KEYS[2], ARGV[7], ARGV[8])
redis.call('HSET', KEYS[3], ARGV[8], size)
redis.call('INCRBY', KEYS[4], size - old)
return {1}
)lua";

// KEYS: lease index, sizes hash, bytes counter. ARGV: now in ms rounded
// down, now ns, colony key prefix. Returns how many index entries were
// removed.
constexpr const char* kPurgeBody = R"lua(
return purge(KEYS[1], KEYS[2], KEYS[3], ARGV[1], ARGV[2], ARGV[3])
)lua";

// KEYS[1] the key's name. ARGV[1] the candidate, base64. Returns the key
// every replica uses.
constexpr const char* kSharedKeyScript = R"lua(
redis.call('SET', KEYS[1], ARGV[1], 'NX')
return redis.call('GET', KEYS[1])
)lua";

std::int64_t to_ns(base::Clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}

base::Clock::time_point from_ns(std::int64_t ns) {
  return base::Clock::time_point(
      std::chrono::duration_cast<base::Clock::time_point::duration>(std::chrono::nanoseconds(ns)));
}

// Times outside the scripts' string comparison (before 1970) are clamped.
std::string ns_text(base::Clock::time_point t) { return std::to_string(std::max<std::int64_t>(0, to_ns(t))); }

// Lease index scores are whole milliseconds: a lease's expiry rounded up,
// "now" rounded down. So purge (score <= now) never drops a live lease, and
// count_live (score > now) counts every live one, plus those that ended
// within the last millisecond.
std::string ms_up(base::Clock::time_point t) {
  return std::to_string(std::chrono::ceil<std::chrono::milliseconds>(t.time_since_epoch()).count());
}
std::string ms_down(base::Clock::time_point t) {
  return std::to_string(std::chrono::floor<std::chrono::milliseconds>(t.time_since_epoch()).count());
}

std::string host_port(const RedisAddress& address) {
  const bool v6 = address.host.find(':') != std::string::npos;
  return (v6 ? "[" + address.host + "]" : address.host) + ":" + std::to_string(address.port);
}

timeval to_timeval(std::chrono::microseconds d) {
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(d.count() / 1'000'000);
  tv.tv_usec = static_cast<suseconds_t>(d.count() % 1'000'000);
  return tv;
}

struct ContextFree {
  void operator()(redisContext* c) const { redisFree(c); }
};
using ContextPtr = std::unique_ptr<redisContext, ContextFree>;

struct ReplyFree {
  void operator()(redisReply* r) const { freeReplyObject(r); }
};
using ReplyPtr = std::unique_ptr<redisReply, ReplyFree>;

std::string_view reply_text(const redisReply* r) { return r->str ? std::string_view(r->str, r->len) : ""; }

// Redis error replies that mean "not now" rather than "never".
bool transient_error(std::string_view message) {
  for (std::string_view prefix : {"LOADING", "BUSY", "MASTERDOWN", "READONLY", "MISCONF", "TRYAGAIN",
                                  "CLUSTERDOWN", "NOREPLICAS", "OOM"}) {
    if (message.starts_with(prefix)) return true;
  }
  return false;
}

// hiredis writes with write(2), so writing to a connection the server has
// reset raises SIGPIPE, which would kill the process. The signal goes to the
// writing thread: blocked there (once per thread), write fails with EPIPE.
void block_sigpipe() {
  thread_local bool blocked = false;
  if (blocked) return;
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  blocked = true;
}

// The connections of one store, shared by its worker threads.
class Connections {
 public:
  explicit Connections(RedisAddress address) : address_(std::move(address)), where_(host_port(address_)) {}

  const std::string& where() const { return where_; }

  // Runs one command. Connection and I/O errors, and Redis's "not now"
  // replies, are `unavailable`; other error replies are `internal`.
  rpc::Result<ReplyPtr> run(std::span<const std::string> args) {
    block_sigpipe();
    std::vector<const char*> argv;
    std::vector<std::size_t> argvlen;
    argv.reserve(args.size());
    argvlen.reserve(args.size());
    for (const std::string& arg : args) {
      argv.push_back(arg.data());
      argvlen.push_back(arg.size());
    }
    // A connection from the free list may have been closed by the server
    // (a Redis restart) since it was last used: then try once more on a new
    // connection, so that a Redis that is back does not fail a call.
    for (int attempt = 0;; ++attempt) {
      ContextPtr context;
      bool reused = false;
      {
        std::lock_guard lock(mutex_);
        if (!idle_.empty()) {
          context = std::move(idle_.back());
          idle_.pop_back();
          reused = true;
        } else if (down_ && std::chrono::steady_clock::now() < retry_at_) {
          return unavailable(last_error_);
        }
      }
      if (!context) {
        auto connected = connect();
        if (!connected) {
          note_outage(connected.error());
          return unavailable(connected.error());
        }
        context = std::move(*connected);
      }
      auto* raw = static_cast<redisReply*>(
          redisCommandArgv(context.get(), static_cast<int>(argv.size()), argv.data(), argvlen.data()));
      if (raw == nullptr) {
        const int saved_errno = errno;
        const int kind = context->err;
        std::string error = context->errstr[0] ? context->errstr : "connection lost";
        if (kind == REDIS_ERR_IO && (saved_errno == EAGAIN || saved_errno == EWOULDBLOCK)) {
          error = "no reply within " + std::to_string(kCommandTimeout.count()) + " s";
        }
        context.reset();
        const bool closed = kind == REDIS_ERR_EOF ||
                            (kind == REDIS_ERR_IO && (saved_errno == ECONNRESET || saved_errno == EPIPE));
        if (reused && closed && attempt == 0) continue;
        note_outage(error);
        return unavailable(error);
      }
      ReplyPtr reply(raw);
      give_back(std::move(context));
      if (reply->type == REDIS_REPLY_ERROR) {
        std::string message(reply_text(reply.get()));
        if (transient_error(message)) {
          note_outage(message);
          return unavailable(message);
        }
        note_recovery();
        return rpc::fail(rpc::Code::internal, "redis at " + where_ + " failed: " + message);
      }
      note_recovery();
      return reply;
    }
  }

 private:
  std::expected<ContextPtr, std::string> connect() {
    ContextPtr context(redisConnectWithTimeout(address_.host.c_str(), address_.port,
                                               to_timeval(kConnectTimeout)));
    if (!context) return std::unexpected("cannot allocate a connection");
    if (context->err) return std::unexpected(std::string(context->errstr));
    if (redisSetTimeout(context.get(), to_timeval(kCommandTimeout)) != REDIS_OK) {
      return std::unexpected(std::string(context->errstr[0] ? context->errstr : "cannot set timeouts"));
    }
    redisEnableKeepAlive(context.get());
    if (address_.db != 0) {
      auto* raw = static_cast<redisReply*>(redisCommand(context.get(), "SELECT %d", address_.db));
      if (raw == nullptr) return std::unexpected(std::string(context->errstr));
      ReplyPtr reply(raw);
      if (reply->type == REDIS_REPLY_ERROR) {
        return std::unexpected("SELECT " + std::to_string(address_.db) + ": " + std::string(reply_text(reply.get())));
      }
    }
    return context;
  }

  void give_back(ContextPtr context) {
    std::lock_guard lock(mutex_);
    idle_.push_back(std::move(context));
  }

  std::unexpected<rpc::Error> unavailable(const std::string& error) const {
    return rpc::fail(rpc::Code::unavailable, "redis at " + where_ + " is unavailable: " + error);
  }

  void note_outage(const std::string& error) {
    std::lock_guard lock(mutex_);
    last_error_ = error;
    retry_at_ = std::chrono::steady_clock::now() + kReconnectInterval;
    if (down_) return;
    down_ = true;
    log::warn("redis unavailable", {{"address", where_}, {"error", error}});
  }

  void note_recovery() {
    std::lock_guard lock(mutex_);
    if (!down_) return;
    down_ = false;
    log::info("redis reachable again", {{"address", where_}});
  }

  const RedisAddress address_;
  const std::string where_;  // "127.0.0.1:6379", "[::1]:6379"
  std::mutex mutex_;
  std::vector<ContextPtr> idle_;
  bool down_ = false;
  std::chrono::steady_clock::time_point retry_at_;
  std::string last_error_;
};

// Runs `work` on `pool` and completes on the awaiting coroutine's executor
// (`fallback` when the handler has none), keeping that executor busy in
// between so that its io_context does not run out of work.
struct OffloadInitiation {
  asio::thread_pool* pool;
  asio::any_io_executor fallback;

  template <class Handler, class Work>
  void operator()(Handler&& handler, Work&& work) const {
    auto target = asio::prefer(asio::get_associated_executor(handler, fallback),
                               asio::execution::outstanding_work.tracked);
    asio::post(*pool, [handler = std::forward<Handler>(handler), work = std::forward<Work>(work),
                       target = std::move(target)]() mutable {
      auto result = work();
      asio::post(target, [handler = std::move(handler), result = std::move(result)]() mutable {
        std::move(handler)(std::move(result));
      });
    });
  }
};

rpc::Error internal_error(const std::string& where, std::string_view what) {
  return rpc::Error{rpc::Code::internal, "redis at " + where + ": " + std::string(what), {}};
}

std::optional<std::int64_t> parse_int(std::string_view text) {
  std::int64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

std::string encode(const ColonyRecord& record) {
  coral::discovery::v1::RegisterColonyRequest message;
  message.set_mesh_id(record.mesh_id);
  message.set_wireguard_pubkey(record.wireguard_pubkey);
  for (const auto& endpoint : record.public_endpoints) message.add_public_endpoints(endpoint);
  message.set_mesh_ipv4(record.mesh_ipv4);
  message.set_mesh_ipv6(record.mesh_ipv6);
  message.set_connect_port(record.connect_port);
  auto& metadata = *message.mutable_metadata();
  for (const auto& [key, value] : record.metadata) metadata[key] = value;
  return message.SerializeAsString();
}

// A record from its hash fields (record, last_seen, expires_at, proven).
std::optional<ColonyRecord> decode(std::string_view bytes, std::string_view last_seen, std::string_view expires_at,
                                   std::string_view proven) {
  coral::discovery::v1::RegisterColonyRequest message;
  if (!message.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) return std::nullopt;
  auto seen = parse_int(last_seen);
  auto expires = parse_int(expires_at);
  if (!seen || !expires) return std::nullopt;
  ColonyRecord record;
  record.mesh_id = message.mesh_id();
  record.wireguard_pubkey = message.wireguard_pubkey();
  record.public_endpoints.assign(message.public_endpoints().begin(), message.public_endpoints().end());
  record.mesh_ipv4 = message.mesh_ipv4();
  record.mesh_ipv6 = message.mesh_ipv6();
  record.connect_port = message.connect_port();
  for (const auto& [key, value] : message.metadata()) record.metadata.emplace_back(key, value);
  std::sort(record.metadata.begin(), record.metadata.end());
  record.last_seen = from_ns(*seen);
  record.expires_at = from_ns(*expires);
  record.proven = proven == "1";
  return record;
}

bool is_string(const redisReply* r) { return r->type == REDIS_REPLY_STRING; }

class RedisStore final : public Store {
 public:
  RedisStore(asio::any_io_executor executor, RedisAddress address, const base::Clock& clock, StoreLimits limits)
      : executor_(std::move(executor)),
        clock_(clock),
        limits_(limits),
        description_("redis://" + host_port(address) + "/" + std::to_string(address.db)),
        connections_(std::make_shared<Connections>(std::move(address))),
        pool_(kWorkerThreads) {}

  ~RedisStore() override {
    // Calls under way finish (bounded by the timeouts) and post their
    // results; nothing runs on the pool after this.
    pool_.join();
  }

  rpc::Awaitable<rpc::Result<PutResult>> put(ColonyRecord record) override {
    const auto now = clock_.now();
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(record.expires_at - now);
    const auto expiry_ms = std::max<std::int64_t>(1, left.count());
    std::vector<std::string> args{"EVAL",
                                  std::string(kScriptFunctions) + kPutBody,
                                  "4",
                                  std::string(kColonyPrefix) + record.mesh_id,
                                  std::string(kLeaseIndex),
                                  std::string(kSizes),
                                  std::string(kBytes),
                                  record.wireguard_pubkey,
                                  encode(record),
                                  ns_text(record.last_seen),
                                  ns_text(record.expires_at),
                                  ns_text(now),
                                  std::to_string(expiry_ms),
                                  ms_up(record.expires_at),
                                  record.mesh_id,
                                  record.proven ? "1" : "0",
                                  std::to_string(footprint(record)),
                                  std::to_string(limits_.max_records),
                                  std::to_string(limits_.max_bytes),
                                  ms_down(now),
                                  std::string(kColonyPrefix)};
    auto work = [connections = connections_, args = std::move(args)]() -> rpc::Result<PutResult> {
      auto reply = connections->run(args);
      if (!reply) return std::unexpected(std::move(reply.error()));
      const redisReply* r = reply->get();
      if (r->type != REDIS_REPLY_ARRAY || r->elements < 1 || r->element[0]->type != REDIS_REPLY_INTEGER) {
        return std::unexpected(internal_error(connections->where(), "unexpected reply to the put script"));
      }
      if (r->element[0]->integer == 1) return PutResult{.stored = true, .holder = std::nullopt, .full = false};
      if (r->element[0]->integer == 2) return PutResult{.stored = false, .holder = std::nullopt, .full = true};
      if (r->elements != 5 || !is_string(r->element[1]) || !is_string(r->element[2]) || !is_string(r->element[3]) ||
          !is_string(r->element[4])) {
        return std::unexpected(internal_error(connections->where(), "unexpected reply to the put script"));
      }
      auto holder = decode(reply_text(r->element[1]), reply_text(r->element[2]), reply_text(r->element[3]),
                           reply_text(r->element[4]));
      if (!holder) return std::unexpected(internal_error(connections->where(), "a stored record does not decode"));
      return PutResult{.stored = false, .holder = std::move(holder), .full = false};
    };
    auto result = co_await offload<PutResult>(std::move(work));
    co_return result;
  }

  rpc::Awaitable<rpc::Result<std::optional<ColonyRecord>>> get(std::string mesh_id) override {
    const auto now = clock_.now();
    std::vector<std::string> args{"HMGET",     std::string(kColonyPrefix) + mesh_id, "record", "last_seen",
                                  "expires_at", "proven"};
    auto work = [connections = connections_, args = std::move(args),
                 now]() -> rpc::Result<std::optional<ColonyRecord>> {
      auto reply = connections->run(args);
      if (!reply) return std::unexpected(std::move(reply.error()));
      const redisReply* r = reply->get();
      if (r->type != REDIS_REPLY_ARRAY || r->elements != 4) {
        return std::unexpected(internal_error(connections->where(), "unexpected reply to HMGET"));
      }
      if (!is_string(r->element[0])) return std::optional<ColonyRecord>();
      if (!is_string(r->element[1]) || !is_string(r->element[2])) {
        return std::unexpected(internal_error(connections->where(), "a stored record does not decode"));
      }
      // Records written before proofs existed have no "proven": unproven.
      const std::string_view proven = is_string(r->element[3]) ? reply_text(r->element[3]) : "0";
      auto record = decode(reply_text(r->element[0]), reply_text(r->element[1]), reply_text(r->element[2]), proven);
      if (!record) return std::unexpected(internal_error(connections->where(), "a stored record does not decode"));
      if (!(now < record->expires_at)) return std::optional<ColonyRecord>();
      return record;
    };
    auto result = co_await offload<std::optional<ColonyRecord>>(std::move(work));
    co_return result;
  }

  rpc::Awaitable<rpc::Result<std::size_t>> count_live() override {
    std::vector<std::string> args{"ZCOUNT", std::string(kLeaseIndex), "(" + ms_down(clock_.now()), "+inf"};
    auto work = [connections = connections_, args = std::move(args)]() -> rpc::Result<std::size_t> {
      return integer_reply(*connections, args);
    };
    auto result = co_await offload<std::size_t>(std::move(work));
    co_return result;
  }

  rpc::Awaitable<rpc::Result<std::size_t>> purge_expired() override {
    const auto now = clock_.now();
    std::vector<std::string> args{"EVAL",
                                  std::string(kScriptFunctions) + kPurgeBody,
                                  "3",
                                  std::string(kLeaseIndex),
                                  std::string(kSizes),
                                  std::string(kBytes),
                                  ms_down(now),
                                  ns_text(now),
                                  std::string(kColonyPrefix)};
    auto work = [connections = connections_, args = std::move(args)]() -> rpc::Result<std::size_t> {
      return integer_reply(*connections, args);
    };
    auto result = co_await offload<std::size_t>(std::move(work));
    co_return result;
  }

  rpc::Awaitable<rpc::Result<crypto::SecretKey>> shared_key(crypto::SecretKey candidate) override {
    std::string text = candidate.to_base64();
    std::vector<std::string> args{"EVAL", kSharedKeyScript, "1", std::string(kServerKey), text};
    crypto::wipe(text);
    auto work = [connections = connections_, args = std::move(args)]() mutable -> rpc::Result<crypto::SecretKey> {
      auto reply = connections->run(args);
      crypto::wipe(args.back());
      if (!reply) return std::unexpected(std::move(reply.error()));
      const redisReply* r = reply->get();
      if (!is_string(r)) return std::unexpected(internal_error(connections->where(), "unexpected reply to the key script"));
      auto key = crypto::SecretKey::from_base64(reply_text(r));
      if (!key) {
        return std::unexpected(internal_error(connections->where(), std::string(kServerKey) + " is not a key: " + key.error()));
      }
      return std::move(*key);
    };
    auto result = co_await offload<crypto::SecretKey>(std::move(work));
    co_return result;
  }

  std::string describe() const override { return description_; }

 private:
  static rpc::Result<std::size_t> integer_reply(Connections& connections, std::span<const std::string> args) {
    auto reply = connections.run(args);
    if (!reply) return std::unexpected(std::move(reply.error()));
    const redisReply* r = reply->get();
    if (r->type != REDIS_REPLY_INTEGER || r->integer < 0) {
      return std::unexpected(internal_error(connections.where(), "unexpected reply to " + args[0]));
    }
    return static_cast<std::size_t>(r->integer);
  }

  // Runs `work` (returning rpc::Result<T>) on the pool; resumes the caller on
  // its executor with the result.
  template <class T, class Work>
  rpc::Awaitable<rpc::Result<T>> offload(Work work) {
    auto guarded = [work = std::move(work), where = connections_->where()]() mutable -> rpc::Result<T> {
      try {
        return work();
      } catch (const std::exception& e) {
        return std::unexpected(internal_error(where, e.what()));
      }
    };
    auto operation = asio::async_initiate<decltype(asio::use_awaitable), void(rpc::Result<T>)>(
        OffloadInitiation{&pool_, executor_}, asio::use_awaitable, std::move(guarded));
    rpc::Result<T> result = co_await std::move(operation);
    co_return result;
  }

  asio::any_io_executor executor_;
  const base::Clock& clock_;
  const StoreLimits limits_;
  const std::string description_;
  std::shared_ptr<Connections> connections_;
  asio::thread_pool pool_;
};

bool valid_hostname(std::string_view host) {
  return std::all_of(host.begin(), host.end(), [](unsigned char c) {
    return std::isalnum(c) || c == '.' || c == '-' || c == '_';
  });
}

}  // namespace

std::expected<RedisAddress, std::string> parse_redis_url(std::string_view url) {
  auto bad = [&](std::string_view why) {
    return std::unexpected("invalid --store " + base::quote(url) + ": " + std::string(why));
  };
  constexpr std::string_view kScheme = "redis://";
  if (!url.starts_with(kScheme)) return bad("expected redis://HOST:PORT/DB");
  std::string_view rest = url.substr(kScheme.size());
  if (rest.find_first_of("?#") != std::string_view::npos) return bad("options (?... or #...) are not supported");
  const auto slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  std::optional<std::string_view> db_text;
  if (slash != std::string_view::npos) db_text = rest.substr(slash + 1);
  if (authority.find('@') != std::string_view::npos) return bad("a user or password is not supported");

  RedisAddress address;
  std::string_view host;
  std::optional<std::string_view> port_text;
  if (authority.starts_with('[')) {
    const auto close = authority.find(']');
    if (close == std::string_view::npos) return bad("missing ] after the IPv6 host");
    host = authority.substr(1, close - 1);
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after[0] != ':') return bad("expected :PORT after the IPv6 host");
      port_text = after.substr(1);
    }
    in6_addr ignored{};
    if (host.empty()) return bad("host is missing");
    if (inet_pton(AF_INET6, std::string(host).c_str(), &ignored) != 1) {
      return bad(base::quote(host) + " is not an IPv6 address");
    }
  } else {
    const auto colon = authority.find(':');
    if (colon != std::string_view::npos && authority.find(':', colon + 1) != std::string_view::npos) {
      return bad("an IPv6 host must be in brackets, as in redis://[::1]:6379/0");
    }
    host = authority.substr(0, colon);
    if (colon != std::string_view::npos) port_text = authority.substr(colon + 1);
    if (host.empty()) return bad("host is missing");
    if (!valid_hostname(host)) return bad("host " + base::quote(host) + " has characters a host name cannot have");
  }
  address.host = std::string(host);

  if (port_text) {
    auto port = parse_int(*port_text);
    if (!port || *port < 1 || *port > 65535 || port_text->starts_with('+')) return bad("port must be 1-65535");
    address.port = static_cast<std::uint16_t>(*port);
  }
  if (db_text && !db_text->empty()) {
    auto db = parse_int(*db_text);
    if (!db || *db < 0 || *db > std::numeric_limits<int>::max()) {
      return bad("database must be a number (0, 1, ...), not " + base::quote(*db_text));
    }
    address.db = static_cast<int>(*db);
  }
  return address;
}

std::unique_ptr<Store> make_redis_store(boost::asio::any_io_executor executor, RedisAddress address,
                                        const base::Clock& clock, StoreLimits limits) {
  return std::make_unique<RedisStore>(std::move(executor), std::move(address), clock, limits);
}

}  // namespace coral::discovery
