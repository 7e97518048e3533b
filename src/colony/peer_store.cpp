#include "colony/peer_store.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <span>
#include <system_error>
#include <utility>

#include "colony/sqlite.h"

namespace coral::colony {

namespace {

namespace fs = std::filesystem;
using sqlite::Database;
using sqlite::ScopedReset;
using sqlite::Statement;
using sqlite::Transaction;

template <class T = void>
using Result = PeerStore::Result<T>;

std::unexpected<std::string> fail(std::string message) { return std::unexpected(std::move(message)); }

// Migration i brings the schema from user_version i to i + 1. A new
// database runs them all, so a migrated file and a new one end up with the
// same schema text (which open() checks). Append; never edit a shipped one.
constexpr std::array<std::string_view, PeerStore::kSchemaVersion> kMigrations = {
    // 0 -> 1: the peer registry.
    R"sql(
CREATE TABLE peers (
  peer_id          TEXT    NOT NULL PRIMARY KEY,
  wireguard_pubkey TEXT    NOT NULL UNIQUE,
  kind             TEXT    NOT NULL CHECK (kind IN ('agent', 'proxy')),
  component_name   TEXT    NOT NULL,
  mesh_index       INTEGER NOT NULL UNIQUE CHECK (mesh_index BETWEEN 0 AND 4294967295),
  mesh_ipv4        TEXT    NOT NULL,
  mesh_ipv6        TEXT    NOT NULL,
  registered_at_ns INTEGER NOT NULL,
  last_seen_ns     INTEGER NOT NULL,
  status           TEXT    NOT NULL
) STRICT, WITHOUT ROWID;
)sql",
    // 1 -> 2: kind 'device' (peers added by hand). SQLite cannot change a
    // CHECK constraint in place: the table is rebuilt with the same rows.
    R"sql(
CREATE TABLE peers_v2 (
  peer_id          TEXT    NOT NULL PRIMARY KEY,
  wireguard_pubkey TEXT    NOT NULL UNIQUE,
  kind             TEXT    NOT NULL CHECK (kind IN ('agent', 'proxy', 'device')),
  component_name   TEXT    NOT NULL,
  mesh_index       INTEGER NOT NULL UNIQUE CHECK (mesh_index BETWEEN 0 AND 4294967295),
  mesh_ipv4        TEXT    NOT NULL,
  mesh_ipv6        TEXT    NOT NULL,
  registered_at_ns INTEGER NOT NULL,
  last_seen_ns     INTEGER NOT NULL,
  status           TEXT    NOT NULL
) STRICT, WITHOUT ROWID;
INSERT INTO peers_v2 SELECT * FROM peers;
DROP TABLE peers;
ALTER TABLE peers_v2 RENAME TO peers;
)sql",
    // 2 -> 3: keys the operator revoked, so that they cannot join again.
    R"sql(
CREATE TABLE revoked_keys (
  wireguard_pubkey TEXT    NOT NULL PRIMARY KEY,
  peer_id          TEXT    NOT NULL,
  name             TEXT    NOT NULL,
  kind             TEXT    NOT NULL CHECK (kind IN ('agent', 'proxy', 'device')),
  revoked_at_ns    INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
)sql",
};

constexpr std::string_view kColumns =
    "peer_id, wireguard_pubkey, kind, component_name, mesh_index, mesh_ipv4, mesh_ipv6, "
    "registered_at_ns, last_seen_ns, status";

std::int64_t to_unix_nanos(Peer::TimePoint t) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}

Peer::TimePoint from_unix_nanos(std::int64_t ns) {
  return Peer::TimePoint(std::chrono::duration_cast<Peer::TimePoint::duration>(std::chrono::nanoseconds(ns)));
}

// One row of sqlite_schema: what a schema version consists of.
struct SchemaEntry {
  std::string type, name, table, sql;
  bool operator==(const SchemaEntry&) const = default;
};

Result<std::vector<SchemaEntry>> read_schema(Database& db) {
  auto statement = db.prepare("SELECT type, name, tbl_name, sql FROM sqlite_schema ORDER BY type, name");
  if (!statement) return fail(std::move(statement).error());
  std::vector<SchemaEntry> entries;
  for (;;) {
    auto row = statement->step();
    if (!row) return fail(std::move(row).error());
    if (!*row) break;
    entries.push_back({std::string(statement->column_text(0)), std::string(statement->column_text(1)),
                       std::string(statement->column_text(2)), std::string(statement->column_text(3))});
  }
  return entries;
}

Result<> apply_migrations(Database& db, std::span<const std::string_view> migrations) {
  for (auto migration : migrations) {
    if (auto result = db.exec(migration); !result) return result;
  }
  return {};
}

// The schema a database at `version` must have: the migrations replayed
// in memory.
Result<std::vector<SchemaEntry>> expected_schema(int version) {
  auto db = Database::open(":memory:");
  if (!db) return fail(std::move(db).error());
  if (auto result = apply_migrations(*db, std::span(kMigrations).first(static_cast<std::size_t>(version))); !result) {
    return fail(std::move(result).error());
  }
  return read_schema(*db);
}

// Creates `file` with mode 0600 unless it exists. True when it was created.
Result<bool> create_private_file(const fs::path& file) {
  const int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) {
    if (errno == EEXIST) return false;
    return fail(std::strerror(errno));
  }
  // The umask may have taken bits away; the owner needs read and write.
  const bool ok = ::fchmod(fd, 0600) == 0;
  const int saved = errno;
  ::close(fd);
  if (!ok) {
    ::unlink(file.c_str());
    return fail(std::strerror(saved));
  }
  return true;
}

}  // namespace

std::string_view to_string(Peer::Kind kind) {
  switch (kind) {
    case Peer::Kind::agent:
      return "agent";
    case Peer::Kind::proxy:
      return "proxy";
    case Peer::Kind::device:
      return "device";
  }
  return "agent";
}

std::optional<Peer::Kind> parse_peer_kind(std::string_view text) {
  if (text == "agent") return Peer::Kind::agent;
  if (text == "proxy") return Peer::Kind::proxy;
  if (text == "device") return Peer::Kind::device;
  return std::nullopt;
}

struct PeerStore::Impl {
  fs::path path;
  std::string name;  // path as text, the prefix of every error
  mutable std::mutex mutex;
  Database db;  // declared before the statements: closed after them
  mutable Statement select_by_pubkey, select_by_id, select_by_index, select_all, select_stale;
  Statement upsert, touch, remove, insert_revoked;
  mutable Statement select_revoked;
  mutable Statement count, count_kind, page_count, page_size;

  std::unexpected<std::string> error(std::string_view what, std::string_view why) const {
    return std::unexpected(name + ": " + std::string(what) + ": " + std::string(why));
  }

  Result<> prepare_all() {
    const std::string columns(kColumns);
    const std::pair<Statement*, std::string> statements[] = {
        {&select_by_pubkey, "SELECT " + columns + " FROM peers WHERE wireguard_pubkey = ?1"},
        {&select_by_id, "SELECT " + columns + " FROM peers WHERE peer_id = ?1"},
        {&select_by_index, "SELECT " + columns + " FROM peers WHERE mesh_index = ?1"},
        {&select_all, "SELECT " + columns + " FROM peers ORDER BY mesh_index"},
        {&select_stale, "SELECT " + columns + " FROM peers WHERE kind = ?1 AND last_seen_ns < ?2 ORDER BY mesh_index"},
        {&upsert, "INSERT INTO peers (" + columns +
                      ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) "
                      "ON CONFLICT (peer_id) DO UPDATE SET wireguard_pubkey = excluded.wireguard_pubkey, "
                      "kind = excluded.kind, component_name = excluded.component_name, "
                      "mesh_index = excluded.mesh_index, mesh_ipv4 = excluded.mesh_ipv4, "
                      "mesh_ipv6 = excluded.mesh_ipv6, registered_at_ns = excluded.registered_at_ns, "
                      "last_seen_ns = excluded.last_seen_ns, status = excluded.status"},
        {&touch, "UPDATE peers SET last_seen_ns = ?2, status = ?3 WHERE peer_id = ?1"},
        {&remove, "DELETE FROM peers WHERE peer_id = ?1 RETURNING mesh_index"},
        {&insert_revoked, "INSERT OR REPLACE INTO revoked_keys (wireguard_pubkey, peer_id, name, kind, revoked_at_ns) "
                          "VALUES (?1, ?2, ?3, ?4, ?5)"},
        {&select_revoked, "SELECT wireguard_pubkey, peer_id, name, kind, revoked_at_ns FROM revoked_keys "
                          "ORDER BY revoked_at_ns, wireguard_pubkey"},
        {&count, "SELECT count(*) FROM peers"},
        {&count_kind, "SELECT count(*) FROM peers WHERE kind = ?1"},
        {&page_count, "PRAGMA page_count"},
        {&page_size, "PRAGMA page_size"},
    };
    for (auto& [statement, sql] : statements) {
      auto prepared = db.prepare(sql);
      if (!prepared) return fail(std::move(prepared).error());
      *statement = std::move(*prepared);
    }
    return {};
  }

  // The current row of a SELECT of kColumns.
  Result<Peer> read_row(const Statement& s) const {
    Peer peer;
    peer.peer_id = s.column_text(0);
    peer.wireguard_pubkey = s.column_text(1);
    auto kind = parse_peer_kind(s.column_text(2));
    if (!kind) return fail("peer " + peer.peer_id + " has an unknown kind '" + std::string(s.column_text(2)) + "'");
    peer.kind = *kind;
    peer.component_name = s.column_text(3);
    peer.mesh_index = static_cast<std::uint32_t>(s.column_int64(4));
    peer.mesh_ipv4 = s.column_text(5);
    peer.mesh_ipv6 = s.column_text(6);
    peer.registered_at = from_unix_nanos(s.column_int64(7));
    peer.last_seen = from_unix_nanos(s.column_int64(8));
    peer.status = s.column_text(9);
    return peer;
  }

  // Runs a SELECT of kColumns bound to `key`; at most one row expected.
  template <class Key>
  Result<std::optional<Peer>> find_one(Statement& s, const Key& key) const {
    ScopedReset reset(s);
    if (auto bound = s.bind(1, key); !bound) return fail(std::move(bound).error());
    auto row = s.step();
    if (!row) return fail(std::move(row).error());
    if (!*row) return std::optional<Peer>();
    auto peer = read_row(s);
    if (!peer) return fail(std::move(peer).error());
    return std::optional<Peer>(std::move(*peer));
  }

  Result<std::int64_t> single_value(Statement& s) const {
    ScopedReset reset(s);
    auto row = s.step();
    if (!row) return fail(std::move(row).error());
    if (!*row) return fail("no result row");
    return s.column_int64(0);
  }

  // upsert's checks and write, inside its transaction.
  Result<> upsert_locked(const Peer& peer) {
    auto by_pubkey = find_one(select_by_pubkey, peer.wireguard_pubkey);
    if (!by_pubkey) return fail(std::move(by_pubkey).error());
    if (*by_pubkey && (*by_pubkey)->peer_id != peer.peer_id) {
      return fail("wireguard_pubkey is already recorded as " + (*by_pubkey)->peer_id);
    }
    if (!*by_pubkey) {
      auto by_id = find_one(select_by_id, peer.peer_id);
      if (!by_id) return fail(std::move(by_id).error());
      if (*by_id) return fail("peer_id is already recorded with another wireguard_pubkey");
    }
    auto by_index = find_one(select_by_index, peer.mesh_index);
    if (!by_index) return fail(std::move(by_index).error());
    if (*by_index && (*by_index)->peer_id != peer.peer_id) {
      return fail("mesh_index " + std::to_string(peer.mesh_index) + " is already held by " + (*by_index)->peer_id);
    }

    ScopedReset reset(upsert);
    auto bound = upsert.bind_all(peer.peer_id, peer.wireguard_pubkey, to_string(peer.kind), peer.component_name,
                                 peer.mesh_index, peer.mesh_ipv4, peer.mesh_ipv6, to_unix_nanos(peer.registered_at),
                                 to_unix_nanos(peer.last_seen), peer.status);
    if (!bound) return bound;
    return upsert.run();
  }
};

PeerStore::PeerStore(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
PeerStore::PeerStore(PeerStore&&) noexcept = default;
PeerStore& PeerStore::operator=(PeerStore&&) noexcept = default;
PeerStore::~PeerStore() = default;

const fs::path& PeerStore::path() const { return impl_->path; }

Result<PeerStore> PeerStore::open(fs::path db_file) {
  auto impl = std::make_unique<Impl>();
  impl->path = std::move(db_file);
  impl->name = impl->path.string();
  const auto& name = impl->name;
  auto failure = [&](std::string_view why) { return fail(name + ": " + std::string(why)); };
  auto not_ours = [&](std::string_view why) {
    return failure("not a coral state database (" + std::string(why) + ")");
  };

  // Look before opening: SQLite would create a missing file with the
  // umask's mode, and would open a directory's path only to fail later.
  std::error_code ec;
  const auto status = fs::status(impl->path, ec);  // follows symlinks
  if (ec && ec != std::errc::no_such_file_or_directory) return failure(ec.message());
  if (!fs::exists(status)) {
    auto created = create_private_file(impl->path);
    if (!created) return failure("cannot create: " + created.error());
  } else if (!fs::is_regular_file(status)) {
    return failure("not a regular file");
  } else if (fs::file_size(impl->path, ec) == 0 && !ec) {
    // SQLite would take an empty file for a new database and the colony
    // would start with no peers, silently. coral never leaves one behind
    // (the first open writes the header before anything else).
    return failure(
        "the file is empty (0 bytes), so the colony's peers and their addresses are gone; restore it from a "
        "backup, or delete it (and any -wal/-shm files beside it) to start with no peers");
  }

  auto db = Database::open(impl->path, Database::Mode::read_write);
  if (!db) return failure("cannot open: " + db.error());
  impl->db = std::move(*db);
  auto& conn = impl->db;

  // Nothing below writes to the file until it is known to be ours (or new).
  if (auto result = conn.exec("PRAGMA busy_timeout = 5000"); !result) return failure(result.error());
  auto application_id = conn.query_int64("PRAGMA application_id");
  if (!application_id) return not_ours(application_id.error());
  auto version = conn.query_int64("PRAGMA user_version");
  if (!version) return not_ours(version.error());
  auto objects = conn.query_int64("SELECT count(*) FROM sqlite_schema");
  if (!objects) return not_ours(objects.error());

  const bool fresh = *application_id == 0 && *version == 0 && *objects == 0;
  if (!fresh) {
    if (*application_id != kApplicationId) {
      char hex[16];
      std::snprintf(hex, sizeof hex, "%08x", static_cast<std::uint32_t>(*application_id));
      return not_ours("its application_id is 0x" + std::string(hex) + ", not coral's");
    }
    if (*version > kSchemaVersion) {
      return failure("written by a newer coral (schema version " + std::to_string(*version) +
                     "; this coral knows up to " + std::to_string(kSchemaVersion) + ")");
    }
    if (*version < 1) return not_ours("no schema version");
    auto expected = expected_schema(static_cast<int>(*version));
    if (!expected) return failure("schema check: " + expected.error());
    auto actual = read_schema(conn);
    if (!actual) return not_ours(actual.error());
    if (*actual != *expected) {
      return not_ours("unexpected schema for version " + std::to_string(*version));
    }
  }

  // WAL: readers never wait for the writer, and a commit is one append.
  // (Persistent in the file; a no-op on one of ours.)
  if (auto result = conn.exec("PRAGMA journal_mode = WAL"); !result) return failure(result.error());
  if (auto result = conn.exec("PRAGMA synchronous = NORMAL; PRAGMA journal_size_limit = 4194304"); !result) {
    return failure(result.error());
  }

  if (fresh || *version < kSchemaVersion) {
    const auto from = static_cast<std::size_t>(fresh ? 0 : *version);
    auto transaction = conn.begin();
    if (!transaction) return failure(transaction.error());
    auto migrated = apply_migrations(conn, std::span(kMigrations).subspan(from));
    if (migrated && fresh) migrated = conn.exec("PRAGMA application_id = " + std::to_string(kApplicationId));
    if (migrated) migrated = conn.exec("PRAGMA user_version = " + std::to_string(kSchemaVersion));
    if (migrated) migrated = transaction->commit();
    if (!migrated) {
      return failure("schema migration from version " + std::to_string(from) + " failed: " + migrated.error());
    }
  }

  if (auto prepared = impl->prepare_all(); !prepared) return failure(prepared.error());
  return PeerStore(std::move(impl));
}

Result<std::optional<Peer>> PeerStore::find_by_pubkey(std::string_view wireguard_pubkey) const {
  std::lock_guard lock(impl_->mutex);
  auto found = impl_->find_one(impl_->select_by_pubkey, wireguard_pubkey);
  if (!found) return impl_->error("find_by_pubkey", found.error());
  return found;
}

Result<std::optional<Peer>> PeerStore::find_by_id(std::string_view peer_id) const {
  std::lock_guard lock(impl_->mutex);
  auto found = impl_->find_one(impl_->select_by_id, peer_id);
  if (!found) return impl_->error("find_by_id", found.error());
  return found;
}

Result<std::optional<Peer>> PeerStore::find_by_index(std::uint32_t mesh_index) const {
  std::lock_guard lock(impl_->mutex);
  auto found = impl_->find_one(impl_->select_by_index, mesh_index);
  if (!found) return impl_->error("find_by_index", found.error());
  return found;
}

Result<> PeerStore::upsert(const Peer& peer) {
  const std::string what = "upsert " + peer.peer_id;
  if (peer.peer_id.empty()) return impl_->error("upsert", "empty peer_id");
  if (peer.wireguard_pubkey.empty()) return impl_->error(what, "empty wireguard_pubkey");
  std::lock_guard lock(impl_->mutex);
  auto transaction = impl_->db.begin();
  if (!transaction) return impl_->error(what, transaction.error());
  auto result = impl_->upsert_locked(peer);
  if (result) result = transaction->commit();
  if (!result) return impl_->error(what, result.error());
  return {};
}

Result<bool> PeerStore::touch(std::string_view peer_id, Peer::TimePoint last_seen, std::string_view status) {
  std::lock_guard lock(impl_->mutex);
  auto& s = impl_->touch;
  ScopedReset reset(s);
  // One statement: its own transaction.
  auto result = s.bind_all(peer_id, to_unix_nanos(last_seen), status);
  if (result) result = s.run();
  if (!result) return impl_->error("touch " + std::string(peer_id), result.error());
  return impl_->db.changes() > 0;
}

Result<std::optional<std::uint32_t>> PeerStore::remove(std::string_view peer_id) {
  std::lock_guard lock(impl_->mutex);
  auto& s = impl_->remove;
  ScopedReset reset(s);
  const auto what = "remove " + std::string(peer_id);
  // One statement: its own transaction, committed when it runs to its end.
  if (auto bound = s.bind(1, peer_id); !bound) return impl_->error(what, bound.error());
  auto row = s.step();
  if (!row) return impl_->error(what, row.error());
  if (!*row) return std::optional<std::uint32_t>();
  const auto index = static_cast<std::uint32_t>(s.column_int64(0));
  if (auto done = s.run(); !done) return impl_->error(what, done.error());
  return std::optional<std::uint32_t>(index);
}

Result<std::optional<std::uint32_t>> PeerStore::revoke(const RevokedKey& key) {
  const auto what = "revoke " + key.peer_id;
  std::lock_guard lock(impl_->mutex);
  auto transaction = impl_->db.begin();
  if (!transaction) return impl_->error(what, transaction.error());
  auto peer = impl_->find_one(impl_->select_by_id, key.peer_id);
  if (!peer) return impl_->error(what, peer.error());
  if (!*peer) return std::optional<std::uint32_t>();  // the transaction rolls back: nothing was written
  if ((*peer)->wireguard_pubkey != key.wireguard_pubkey) {
    return impl_->error(what, "the peer is recorded with another wireguard_pubkey");
  }
  {
    auto& s = impl_->remove;
    ScopedReset reset(s);
    if (auto bound = s.bind(1, std::string_view(key.peer_id)); !bound) return impl_->error(what, bound.error());
    auto row = s.step();
    if (!row) return impl_->error(what, row.error());
    if (auto done = s.run(); !done) return impl_->error(what, done.error());
  }
  {
    auto& s = impl_->insert_revoked;
    ScopedReset reset(s);
    auto result = s.bind_all(key.wireguard_pubkey, key.peer_id, key.name, to_string(key.kind),
                             to_unix_nanos(key.revoked_at));
    if (result) result = s.run();
    if (result) result = transaction->commit();
    if (!result) return impl_->error(what, result.error());
  }
  return std::optional<std::uint32_t>((*peer)->mesh_index);
}

Result<std::vector<RevokedKey>> PeerStore::revoked() const {
  std::lock_guard lock(impl_->mutex);
  auto& s = impl_->select_revoked;
  ScopedReset reset(s);
  std::vector<RevokedKey> keys;
  for (;;) {
    auto row = s.step();
    if (!row) return impl_->error("revoked", row.error());
    if (!*row) break;
    auto kind = parse_peer_kind(s.column_text(3));
    if (!kind) {
      return impl_->error("revoked", "a revoked key has an unknown kind '" + std::string(s.column_text(3)) + "'");
    }
    keys.push_back(RevokedKey{
        .wireguard_pubkey = std::string(s.column_text(0)),
        .peer_id = std::string(s.column_text(1)),
        .name = std::string(s.column_text(2)),
        .kind = *kind,
        .revoked_at = from_unix_nanos(s.column_int64(4)),
    });
  }
  return keys;
}

Result<std::vector<Peer>> PeerStore::all() const {
  std::lock_guard lock(impl_->mutex);
  auto& s = impl_->select_all;
  ScopedReset reset(s);
  std::vector<Peer> peers;
  for (;;) {
    auto row = s.step();
    if (!row) return impl_->error("all", row.error());
    if (!*row) break;
    auto peer = impl_->read_row(s);
    if (!peer) return impl_->error("all", peer.error());
    peers.push_back(std::move(*peer));
  }
  return peers;
}

Result<std::vector<Peer>> PeerStore::last_seen_before(Peer::Kind kind, Peer::TimePoint before) const {
  std::lock_guard lock(impl_->mutex);
  auto& s = impl_->select_stale;
  ScopedReset reset(s);
  if (auto bound = s.bind_all(to_string(kind), to_unix_nanos(before)); !bound) {
    return impl_->error("last_seen_before", bound.error());
  }
  std::vector<Peer> peers;
  for (;;) {
    auto row = s.step();
    if (!row) return impl_->error("last_seen_before", row.error());
    if (!*row) break;
    auto peer = impl_->read_row(s);
    if (!peer) return impl_->error("last_seen_before", peer.error());
    peers.push_back(std::move(*peer));
  }
  return peers;
}

Result<std::size_t> PeerStore::count() const {
  std::lock_guard lock(impl_->mutex);
  auto n = impl_->single_value(impl_->count);
  if (!n) return impl_->error("count", n.error());
  return static_cast<std::size_t>(*n);
}

Result<std::size_t> PeerStore::count(Peer::Kind kind) const {
  std::lock_guard lock(impl_->mutex);
  auto& s = impl_->count_kind;
  ScopedReset reset(s);
  if (auto bound = s.bind(1, to_string(kind)); !bound) return impl_->error("count", bound.error());
  auto n = impl_->single_value(s);
  if (!n) return impl_->error("count", n.error());
  return static_cast<std::size_t>(*n);
}

Result<std::uint64_t> PeerStore::storage_bytes() const {
  std::lock_guard lock(impl_->mutex);
  auto pages = impl_->single_value(impl_->page_count);
  if (!pages) return impl_->error("storage_bytes", pages.error());
  auto page_size = impl_->single_value(impl_->page_size);
  if (!page_size) return impl_->error("storage_bytes", page_size.error());
  std::error_code ec;
  auto wal = fs::file_size(fs::path(impl_->name + "-wal"), ec);
  if (ec) wal = 0;  // no WAL right now (e.g. after the last checkpoint on close)
  return static_cast<std::uint64_t>(*pages) * static_cast<std::uint64_t>(*page_size) + wal;
}

}  // namespace coral::colony
