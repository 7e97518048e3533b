// The colony's peer registry on a real SQLite file in a temporary directory:
// CRUD, the uniqueness rules, persistence across reopen, refusal of files
// that are not ours (left untouched), file mode, storage size, scale.

#include "colony/peer_store.h"

#include <gtest/gtest.h>

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "colony/sqlite.h"

namespace coral::colony {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

void write_file(const fs::path& path, std::string_view content) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << content;
}

std::string hex12(std::uint64_t n) {
  char buffer[16];
  std::snprintf(buffer, sizeof buffer, "%012llx", static_cast<unsigned long long>(n & 0xffffffffffffULL));
  return buffer;
}

// A peer with everything derived from `n`: distinct pubkey, id and index.
Peer make_peer(std::uint32_t n, Peer::Kind kind = Peer::Kind::agent) {
  const auto t = Peer::TimePoint(std::chrono::nanoseconds(1'700'000'000'123'456'789LL + n));
  return Peer{
      .peer_id = "peer-" + hex12(0xa1b2c3000000ULL + n),
      .wireguard_pubkey = "pubkey-" + std::to_string(n) + "-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
      .kind = kind,
      .component_name = kind == Peer::Kind::proxy ? "proxy" : "api",
      .mesh_index = n,
      .mesh_ipv4 = "10.42." + std::to_string(n / 256) + "." + std::to_string(n % 256),
      .mesh_ipv6 = "fd42::" + std::to_string(n),
      .registered_at = t,
      .last_seen = t + 5s,
      .status = "healthy",
  };
}

class PeerStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    static std::atomic<int> counter{0};
    dir_ = fs::temp_directory_path() /
           ("coral-peer-store-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "colonies");
    file_ = dir_ / "colonies" / "my-shop-production-a3f2e1.db";
  }
  void TearDown() override { fs::remove_all(dir_); }

  PeerStore open_store() {
    auto store = PeerStore::open(file_);
    EXPECT_TRUE(store) << store.error();
    return std::move(*store);
  }

  // Files in the colonies dir other than `file_` itself.
  std::vector<std::string> siblings() const {
    std::vector<std::string> names;
    for (const auto& entry : fs::directory_iterator(file_.parent_path())) {
      if (entry.path() != file_) names.push_back(entry.path().filename().string());
    }
    return names;
  }

  // Opening `file_` fails with exactly `message` after the path, and leaves
  // the file byte-for-byte as it was (with no journal beside it).
  void expect_refused(std::string_view message) {
    const auto before = read_file(file_);
    const auto mtime = fs::last_write_time(file_);
    auto store = PeerStore::open(file_);
    ASSERT_FALSE(store);
    EXPECT_EQ(store.error(), file_.string() + ": " + std::string(message));
    EXPECT_EQ(read_file(file_), before);
    EXPECT_EQ(fs::last_write_time(file_), mtime);
    for (const auto& name : siblings()) {
      EXPECT_EQ(name.find("-journal"), std::string::npos) << name;
    }
  }

  fs::path dir_;
  fs::path file_;
};

TEST_F(PeerStoreTest, CreatesAPrivateWalDatabase) {
  auto store = open_store();
  EXPECT_EQ(store.path(), file_);
  struct stat st {};
  ASSERT_EQ(::stat(file_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ASSERT_TRUE(store.upsert(make_peer(1)));
  // The WAL and its index are created with the database's mode.
  for (const auto& name : siblings()) {
    ASSERT_EQ(::stat((file_.parent_path() / name).c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u) << name;
  }

  auto db = sqlite::Database::open(file_, sqlite::Database::Mode::read_only);
  ASSERT_TRUE(db) << db.error();
  auto mode = db->prepare("PRAGMA journal_mode");
  ASSERT_TRUE(mode);
  ASSERT_TRUE(mode->step().value());
  EXPECT_EQ(mode->column_text(0), "wal");
  mode->reset();
  EXPECT_EQ(db->query_int64("PRAGMA application_id").value(), PeerStore::kApplicationId);
  EXPECT_EQ(db->query_int64("PRAGMA user_version").value(), PeerStore::kSchemaVersion);
}

TEST_F(PeerStoreTest, CreatesWithMode0600WhateverTheUmask) {
  const auto old = ::umask(0077 | 0200);  // would leave the owner without write
  auto store = PeerStore::open(file_);
  ::umask(old);
  ASSERT_TRUE(store) << store.error();
  struct stat st {};
  ASSERT_EQ(::stat(file_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
}

TEST_F(PeerStoreTest, Crud) {
  auto store = open_store();
  EXPECT_EQ(store.count().value(), 0u);
  EXPECT_EQ(store.find_by_id("peer-000000000000").value(), std::nullopt);

  const Peer agent = make_peer(2);
  const Peer proxy = make_peer(3, Peer::Kind::proxy);
  ASSERT_TRUE(store.upsert(agent));
  ASSERT_TRUE(store.upsert(proxy));

  EXPECT_EQ(store.find_by_pubkey(agent.wireguard_pubkey).value(), agent);
  EXPECT_EQ(store.find_by_id(proxy.peer_id).value(), proxy);
  EXPECT_EQ(store.find_by_index(2).value(), agent);
  EXPECT_EQ(store.find_by_index(4).value(), std::nullopt);
  EXPECT_EQ(store.find_by_pubkey("nobody").value(), std::nullopt);
  EXPECT_EQ(store.count().value(), 2u);
  EXPECT_EQ(store.count(Peer::Kind::agent).value(), 1u);
  EXPECT_EQ(store.count(Peer::Kind::proxy).value(), 1u);

  const auto later = agent.last_seen + 15s + 1ns;
  EXPECT_TRUE(store.touch(agent.peer_id, later, "degraded").value());
  auto touched = store.find_by_id(agent.peer_id).value();
  ASSERT_TRUE(touched);
  EXPECT_EQ(touched->last_seen, later);
  EXPECT_EQ(touched->status, "degraded");
  EXPECT_EQ(touched->registered_at, agent.registered_at);
  EXPECT_FALSE(store.touch("peer-ffffffffffff", later, "healthy").value());

  EXPECT_EQ(store.remove(agent.peer_id).value(), 2u);
  EXPECT_EQ(store.remove(agent.peer_id).value(), std::nullopt);
  EXPECT_EQ(store.find_by_pubkey(agent.wireguard_pubkey).value(), std::nullopt);
  EXPECT_EQ(store.count().value(), 1u);
  EXPECT_EQ(store.all().value(), std::vector<Peer>{proxy});
}

TEST_F(PeerStoreTest, EmptyStringsAndExtremeValuesRoundTrip) {
  auto store = open_store();
  Peer peer = make_peer(0);
  peer.mesh_index = 0xffffffffu;
  peer.component_name = "";
  peer.mesh_ipv6 = "";
  peer.status = "";
  peer.registered_at = Peer::TimePoint(std::chrono::nanoseconds(-1));  // before the epoch
  peer.last_seen = Peer::TimePoint();
  ASSERT_TRUE(store.upsert(peer));
  EXPECT_EQ(store.find_by_index(0xffffffffu).value(), peer);
  auto empty = peer;
  empty.peer_id = "";
  auto refused = store.upsert(empty);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error(), file_.string() + ": upsert: empty peer_id");
}

TEST_F(PeerStoreTest, UpsertOfTheSamePubkeyUpdates) {
  auto store = open_store();
  Peer peer = make_peer(7);
  ASSERT_TRUE(store.upsert(peer));
  peer.component_name = "frontend";
  peer.kind = Peer::Kind::proxy;
  peer.mesh_index = 70;  // moving to a free index is allowed
  peer.mesh_ipv4 = "10.42.0.70";
  peer.mesh_ipv6 = "fd42::46";
  peer.last_seen += 1h;
  peer.status = "unhealthy";
  ASSERT_TRUE(store.upsert(peer));
  EXPECT_EQ(store.count().value(), 1u);
  EXPECT_EQ(store.find_by_pubkey(peer.wireguard_pubkey).value(), peer);
  EXPECT_EQ(store.find_by_index(7).value(), std::nullopt);
  EXPECT_EQ(store.find_by_index(70).value(), peer);
}

TEST_F(PeerStoreTest, UniquenessViolationsChangeNothing) {
  auto store = open_store();
  const Peer a = make_peer(1);
  const Peer b = make_peer(2);
  ASSERT_TRUE(store.upsert(a));
  ASSERT_TRUE(store.upsert(b));

  // Another pubkey on a's index.
  Peer c = make_peer(3);
  c.mesh_index = a.mesh_index;
  auto clash = store.upsert(c);
  ASSERT_FALSE(clash);
  EXPECT_EQ(clash.error(), file_.string() + ": upsert " + c.peer_id + ": mesh_index 1 is already held by " + a.peer_id);

  // b moving onto a's index.
  Peer b_moved = b;
  b_moved.mesh_index = a.mesh_index;
  EXPECT_FALSE(store.upsert(b_moved));

  // a's pubkey under another peer id.
  Peer renamed = a;
  renamed.peer_id = "peer-0000000000ff";
  renamed.mesh_index = 99;
  auto taken = store.upsert(renamed);
  ASSERT_FALSE(taken);
  EXPECT_NE(taken.error().find("wireguard_pubkey is already recorded as " + a.peer_id), std::string::npos)
      << taken.error();

  // a's peer id with another pubkey.
  Peer impostor = a;
  impostor.wireguard_pubkey = "another-key";
  impostor.mesh_index = 98;
  auto id_taken = store.upsert(impostor);
  ASSERT_FALSE(id_taken);
  EXPECT_NE(id_taken.error().find("peer_id is already recorded with another wireguard_pubkey"), std::string::npos)
      << id_taken.error();

  EXPECT_EQ(store.all().value(), (std::vector<Peer>{a, b}));
}

TEST_F(PeerStoreTest, RemoveFreesTheIndex) {
  auto store = open_store();
  ASSERT_TRUE(store.upsert(make_peer(5)));
  Peer newcomer = make_peer(6);
  newcomer.mesh_index = 5;
  EXPECT_FALSE(store.upsert(newcomer));
  auto freed = store.remove(make_peer(5).peer_id);
  ASSERT_TRUE(freed) << freed.error();
  EXPECT_EQ(*freed, 5u);
  ASSERT_TRUE(store.upsert(newcomer));
  EXPECT_EQ(store.find_by_index(5).value(), newcomer);
}

TEST_F(PeerStoreTest, AllIsSortedByMeshIndex) {
  auto store = open_store();
  std::vector<std::uint32_t> indexes(50);
  std::iota(indexes.begin(), indexes.end(), 10u);
  std::shuffle(indexes.begin(), indexes.end(), std::mt19937(42));
  for (auto i : indexes) ASSERT_TRUE(store.upsert(make_peer(i)));
  auto all = store.all();
  ASSERT_TRUE(all);
  ASSERT_EQ(all->size(), 50u);
  for (std::uint32_t i = 0; i < 50; ++i) EXPECT_EQ((*all)[i], make_peer(10 + i));
}

TEST_F(PeerStoreTest, SurvivesReopen) {
  std::vector<Peer> written;
  {
    auto store = open_store();
    for (std::uint32_t i = 1; i <= 20; ++i) {
      written.push_back(make_peer(i, i % 4 == 0 ? Peer::Kind::proxy : Peer::Kind::agent));
      ASSERT_TRUE(store.upsert(written.back()));
    }
    ASSERT_TRUE(store.touch(written[3].peer_id, written[3].last_seen + 1ns, "degraded").value());
    written[3].last_seen += 1ns;
    written[3].status = "degraded";
    ASSERT_EQ(store.remove(written[10].peer_id).value(), 11u);
    written.erase(written.begin() + 10);
  }
  {
    auto store = open_store();
    EXPECT_EQ(store.all().value(), written);
    EXPECT_EQ(store.count(Peer::Kind::proxy).value(), 5u);
    ASSERT_TRUE(store.upsert(make_peer(11)));  // the removed index is free
  }
  auto store = open_store();
  EXPECT_EQ(store.count().value(), 20u);
  EXPECT_EQ(store.find_by_index(11).value(), make_peer(11));
}

TEST_F(PeerStoreTest, SurvivesAKilledProcess) {
  // A child writes and dies without closing anything: committed writes are
  // in the WAL, which the next open replays.
  const Peer peer = make_peer(9);
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    auto store = PeerStore::open(file_);
    const bool ok = store && store->upsert(peer) && store->touch(peer.peer_id, peer.last_seen + 1s, "degraded");
    ::_exit(ok ? 0 : 1);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  auto store = open_store();
  auto found = store.find_by_id(peer.peer_id).value();
  ASSERT_TRUE(found);
  EXPECT_EQ(found->status, "degraded");
  EXPECT_EQ(found->last_seen, peer.last_seen + 1s);
}

// Schema 2 added kind 'device'. A version-1 file (as coral wrote it before)
// is migrated in place with its peers, and then takes devices.
TEST_F(PeerStoreTest, MigratesAVersion1StoreAndKeepsItsPeers) {
  const Peer agent = make_peer(2);
  const Peer proxy = make_peer(3, Peer::Kind::proxy);
  {
    auto db = sqlite::Database::open(file_);
    ASSERT_TRUE(db);
    ASSERT_TRUE(db->exec(R"sql(
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
PRAGMA application_id = 1668248172; PRAGMA user_version = 1;
)sql"));
  }
  {
    // Rows as version 1 wrote them, through a store of this build that
    // has not migrated yet: insert them by hand.
    auto db = sqlite::Database::open(file_);
    ASSERT_TRUE(db);
    for (const Peer* peer : {&agent, &proxy}) {
      const auto ns = [](Peer::TimePoint t) {
        return std::to_string(std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count());
      };
      ASSERT_TRUE(db->exec("INSERT INTO peers VALUES ('" + peer->peer_id + "', '" + peer->wireguard_pubkey + "', '" +
                           std::string(to_string(peer->kind)) + "', '" + peer->component_name + "', " +
                           std::to_string(peer->mesh_index) + ", '" + peer->mesh_ipv4 + "', '" + peer->mesh_ipv6 +
                           "', " + ns(peer->registered_at) + ", " + ns(peer->last_seen) + ", '" + peer->status +
                           "')"));
    }
  }
  auto store = open_store();
  EXPECT_EQ(store.all().value(), (std::vector<Peer>{agent, proxy}));
  const Peer device = make_peer(4, Peer::Kind::device);
  ASSERT_TRUE(store.upsert(device));
  EXPECT_EQ(store.find_by_id(device.peer_id).value(), device);
  {
    auto db = sqlite::Database::open(file_, sqlite::Database::Mode::read_only);
    ASSERT_TRUE(db);
    EXPECT_EQ(db->query_int64("PRAGMA user_version").value(), PeerStore::kSchemaVersion);
  }
}

// Schema 3 added revoked_keys: revoke() removes the peer and records its
// key in one transaction; the record survives a reopen.
TEST_F(PeerStoreTest, RevokeForgetsThePeerAndRemembersItsKey) {
  const Peer agent = make_peer(2);
  const Peer proxy = make_peer(3, Peer::Kind::proxy);
  {
    auto store = open_store();
    ASSERT_TRUE(store.upsert(agent));
    ASSERT_TRUE(store.upsert(proxy));
    const RevokedKey key{.wireguard_pubkey = agent.wireguard_pubkey, .peer_id = agent.peer_id, .name = "api",
                         .kind = Peer::Kind::agent, .revoked_at = agent.last_seen + 1s};
    EXPECT_EQ(store.revoke(key).value(), std::optional<std::uint32_t>(2));
    EXPECT_EQ(store.all().value(), std::vector<Peer>{proxy});
    // Nobody of that id any more: nothing changes.
    RevokedKey nobody = key;
    nobody.peer_id = "peer-000000000000";
    EXPECT_EQ(store.revoke(nobody).value(), std::nullopt);
    // A key that is not the peer's: refused, nothing changes.
    RevokedKey wrong{.wireguard_pubkey = agent.wireguard_pubkey, .peer_id = proxy.peer_id, .name = "proxy",
                     .kind = Peer::Kind::proxy, .revoked_at = agent.last_seen};
    EXPECT_FALSE(store.revoke(wrong));
    EXPECT_EQ(store.all().value(), std::vector<Peer>{proxy});
  }
  auto store = open_store();
  const auto keys = store.revoked().value();
  ASSERT_EQ(keys.size(), 1U);
  EXPECT_EQ(keys[0].wireguard_pubkey, agent.wireguard_pubkey);
  EXPECT_EQ(keys[0].peer_id, agent.peer_id);
  EXPECT_EQ(keys[0].name, "api");
  EXPECT_EQ(keys[0].kind, Peer::Kind::agent);
  EXPECT_EQ(keys[0].revoked_at, agent.last_seen + 1s);
}

TEST_F(PeerStoreTest, RefusesGarbageAndLeavesItAlone) {
  std::string garbage;
  for (int i = 0; i < 300; ++i) garbage += "this is not a database; ";
  write_file(file_, garbage);
  expect_refused("not a coral state database (file is not a database)");
  EXPECT_EQ(read_file(file_), garbage);
  EXPECT_TRUE(siblings().empty());
}

TEST_F(PeerStoreTest, RefusesAShortGarbageFile) {
  write_file(file_, "oops");
  expect_refused("not a coral state database (file is not a database)");
}

TEST_F(PeerStoreTest, RefusesAnotherApplicationsDatabase) {
  {
    auto db = sqlite::Database::open(file_);
    ASSERT_TRUE(db);
    ASSERT_TRUE(db->exec("CREATE TABLE notes (body TEXT); INSERT INTO notes VALUES ('keep me')"));
  }
  expect_refused("not a coral state database (its application_id is 0x00000000, not coral's)");
}

TEST_F(PeerStoreTest, RefusesAWrongSchema) {
  {
    auto db = sqlite::Database::open(file_);
    ASSERT_TRUE(db);
    ASSERT_TRUE(db->exec("CREATE TABLE peers (peer_id TEXT PRIMARY KEY, pubkey TEXT); "
                         "PRAGMA application_id = 1668248172; PRAGMA user_version = 1"));
  }
  expect_refused("not a coral state database (unexpected schema for version 1)");
}

TEST_F(PeerStoreTest, RefusesANewerSchema) {
  { ASSERT_TRUE(open_store().upsert(make_peer(1))); }
  {
    auto db = sqlite::Database::open(file_);
    ASSERT_TRUE(db);
    ASSERT_TRUE(db->exec("PRAGMA user_version = 99"));
  }
  expect_refused("written by a newer coral (schema version 99; this coral knows up to 3)");
}

// issue 16: `: > colonies/ID.db` made the colony start silently with no
// peers. An empty file is refused, named, and left as it is.
TEST_F(PeerStoreTest, RefusesAnEmptyFile) {
  write_file(file_, "");
  expect_refused(
      "the file is empty (0 bytes), so the colony's peers and their addresses are gone; restore it from a "
      "backup, or delete it (and any -wal/-shm files beside it) to start with no peers");
  EXPECT_EQ(fs::file_size(file_), 0u);
  EXPECT_TRUE(siblings().empty());
}

TEST_F(PeerStoreTest, PathErrorsNameTheFile) {
  auto missing_dir = PeerStore::open(dir_ / "nowhere" / "x.db");
  ASSERT_FALSE(missing_dir);
  EXPECT_EQ(missing_dir.error(), (dir_ / "nowhere" / "x.db").string() + ": cannot create: No such file or directory");

  fs::create_directory(file_);
  auto directory = PeerStore::open(file_);
  ASSERT_FALSE(directory);
  EXPECT_EQ(directory.error(), file_.string() + ": not a regular file");
}

TEST_F(PeerStoreTest, StorageBytesGrowWithData) {
  auto store = open_store();
  const auto empty = store.storage_bytes().value();
  EXPECT_GT(empty, 0u);
  for (std::uint32_t i = 0; i < 500; ++i) ASSERT_TRUE(store.upsert(make_peer(i)));
  const auto full = store.storage_bytes().value();
  EXPECT_GT(full, empty + 500 * 100);  // at least the rows' text
  // The WAL counts: it is part of the state until checkpointed.
  EXPECT_GE(full, fs::file_size(file_.string() + "-wal"));
}

TEST_F(PeerStoreTest, TenThousandPeers) {
  constexpr std::uint32_t kPeers = 10'000;
  {
    auto store = open_store();
    for (std::uint32_t i = 0; i < kPeers; ++i) ASSERT_TRUE(store.upsert(make_peer(i)));
    EXPECT_EQ(store.count().value(), kPeers);
    for (std::uint32_t i = 0; i < kPeers; i += 7) {
      const Peer expected = make_peer(i);
      ASSERT_EQ(store.find_by_pubkey(expected.wireguard_pubkey).value(), expected);
      ASSERT_EQ(store.find_by_id(expected.peer_id).value(), expected);
    }
    for (std::uint32_t i = 0; i < kPeers; i += 3) {
      ASSERT_TRUE(store.touch(make_peer(i).peer_id, make_peer(i).last_seen + 1s, "healthy").value());
    }
  }
  auto store = open_store();
  auto all = store.all();
  ASSERT_TRUE(all);
  ASSERT_EQ(all->size(), kPeers);
  for (std::uint32_t i = 0; i < kPeers; ++i) ASSERT_EQ((*all)[i].mesh_index, i);
}

TEST_F(PeerStoreTest, UsableFromSeveralThreads) {
  auto store = open_store();
  std::vector<std::thread> threads;
  for (std::uint32_t t = 0; t < 4; ++t) {
    threads.emplace_back([&store, t] {
      for (std::uint32_t i = 0; i < 100; ++i) {
        const Peer peer = make_peer(t * 1000 + i);
        EXPECT_TRUE(store.upsert(peer));
        EXPECT_EQ(store.find_by_id(peer.peer_id).value(), peer);
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(store.count().value(), 400u);
}

}  // namespace
}  // namespace coral::colony
