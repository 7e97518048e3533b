// The SQLite wrapper: statements (bind, step, columns, reuse), errors with
// SQLite's message, transactions that roll back unless committed, moves.

#include "colony/sqlite.h"

#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <string>

namespace coral::colony::sqlite {
namespace {

Database memory_db() {
  auto db = Database::open(":memory:");
  EXPECT_TRUE(db) << db.error();
  return std::move(*db);
}

TEST(SqliteTest, ExecPrepareBindStepColumns) {
  auto db = memory_db();
  ASSERT_TRUE(db.exec("CREATE TABLE t (i INTEGER, d REAL, s TEXT, n TEXT); CREATE INDEX t_i ON t (i)"));
  auto insert = db.prepare("INSERT INTO t (i, d, s, n) VALUES (?1, ?2, ?3, ?4)");
  ASSERT_TRUE(insert) << insert.error();
  ASSERT_TRUE(insert->bind_all(std::int64_t{1} << 40, 2.5, std::string("héllo"), nullptr));
  ASSERT_TRUE(insert->run());
  EXPECT_EQ(db.changes(), 1);
  insert->reset();
  ASSERT_TRUE(insert->bind_all(-7, 0.0, std::string_view(), nullptr));
  ASSERT_TRUE(insert->run());
  insert->reset();

  auto select = db.prepare("SELECT i, d, s, n FROM t ORDER BY i");
  ASSERT_TRUE(select);
  EXPECT_EQ(select->column_count(), 4);
  auto row = select->step();
  ASSERT_TRUE(row && *row);
  EXPECT_EQ(select->column_int64(0), -7);
  // An empty string view binds '' (not NULL).
  EXPECT_FALSE(select->column_is_null(2));
  EXPECT_EQ(select->column_text(2), "");
  row = select->step();
  ASSERT_TRUE(row && *row);
  EXPECT_EQ(select->column_int64(0), std::int64_t{1} << 40);
  EXPECT_DOUBLE_EQ(select->column_double(1), 2.5);
  EXPECT_EQ(select->column_text(2), "héllo");
  EXPECT_TRUE(select->column_is_null(3));
  EXPECT_EQ(select->column_text(3), "");
  row = select->step();
  ASSERT_TRUE(row);
  EXPECT_FALSE(*row);

  // Reusable after reset.
  select->reset();
  row = select->step();
  ASSERT_TRUE(row && *row);
  EXPECT_EQ(select->column_int64(0), -7);
  EXPECT_EQ(select->sql(), "SELECT i, d, s, n FROM t ORDER BY i");
}

TEST(SqliteTest, QueryInt64) {
  auto db = memory_db();
  auto v = db.query_int64("SELECT 6 * 7");
  ASSERT_TRUE(v);
  EXPECT_EQ(*v, 42);
  ASSERT_TRUE(db.exec("PRAGMA user_version = 9"));
  EXPECT_EQ(db.query_int64("PRAGMA user_version").value(), 9);
  ASSERT_TRUE(db.exec("CREATE TABLE t (x)"));
  auto none = db.query_int64("SELECT x FROM t");
  ASSERT_FALSE(none);
  EXPECT_EQ(none.error(), "no result row");
}

TEST(SqliteTest, ErrorsCarrySqliteMessages) {
  auto db = memory_db();
  auto bad = db.prepare("SELEC 1");
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().find("syntax error"), std::string::npos) << bad.error();

  auto missing = db.prepare("SELECT * FROM nowhere");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error(), "no such table: nowhere");

  auto exec = db.exec("CREATE TABLE t (x INTEGER PRIMARY KEY); INSERT INTO t VALUES (1); INSERT INTO t VALUES (1)");
  ASSERT_FALSE(exec);
  EXPECT_EQ(exec.error(), "UNIQUE constraint failed: t.x");

  auto insert = db.prepare("INSERT INTO t VALUES (?1)");
  ASSERT_TRUE(insert);
  ASSERT_TRUE(insert->bind(1, 1));
  auto step = insert->step();
  ASSERT_FALSE(step);
  EXPECT_EQ(step.error(), "UNIQUE constraint failed: t.x");
  EXPECT_EQ(db.extended_error_code(), 1555);  // SQLITE_CONSTRAINT_PRIMARYKEY
  insert->reset();

  auto range = insert->bind(2, 5);
  ASSERT_FALSE(range);
  EXPECT_EQ(range.error(), "column index out of range");

  EXPECT_FALSE(db.prepare("SELECT 1; SELECT 2"));
  EXPECT_FALSE(db.prepare("   "));
}

TEST(SqliteTest, OpenErrors) {
  auto nowhere = Database::open("/nonexistent-dir-for-coral-test/x.db");
  ASSERT_FALSE(nowhere);
  EXPECT_EQ(nowhere.error(), "unable to open database file");

  const auto path = std::filesystem::temp_directory_path() / ("coral-sqlite-test-" + std::to_string(::getpid()));
  std::filesystem::remove(path);
  EXPECT_FALSE(Database::open(path, Database::Mode::read_write));  // must exist
  EXPECT_FALSE(std::filesystem::exists(path));
  {
    auto created = Database::open(path, Database::Mode::read_write_create);
    ASSERT_TRUE(created) << created.error();
    ASSERT_TRUE(created->exec("CREATE TABLE t (x)"));
  }
  {
    auto ro = Database::open(path, Database::Mode::read_only);
    ASSERT_TRUE(ro);
    auto write = ro->exec("INSERT INTO t VALUES (1)");
    ASSERT_FALSE(write);
    EXPECT_EQ(write.error(), "attempt to write a readonly database");
  }
  std::filesystem::remove(path);
}

TEST(SqliteTest, TransactionCommitAndRollback) {
  auto db = memory_db();
  ASSERT_TRUE(db.exec("CREATE TABLE t (x)"));
  {
    auto tx = db.begin();
    ASSERT_TRUE(tx) << tx.error();
    EXPECT_FALSE(db.autocommit());
    ASSERT_TRUE(db.exec("INSERT INTO t VALUES (1)"));
    ASSERT_TRUE(tx->commit());
    EXPECT_TRUE(db.autocommit());
    EXPECT_FALSE(tx->commit());  // already done
  }
  {
    auto tx = db.begin(Transaction::Kind::deferred);
    ASSERT_TRUE(tx);
    ASSERT_TRUE(db.exec("INSERT INTO t VALUES (2)"));
    // Destroyed uncommitted: rolled back.
  }
  EXPECT_TRUE(db.autocommit());
  EXPECT_EQ(db.query_int64("SELECT count(*) FROM t").value(), 1);
  {
    auto tx = db.begin(Transaction::Kind::exclusive);
    ASSERT_TRUE(tx);
    ASSERT_TRUE(db.exec("INSERT INTO t VALUES (3)"));
    ASSERT_TRUE(tx->rollback());
    ASSERT_TRUE(tx->rollback());  // idempotent
  }
  EXPECT_EQ(db.query_int64("SELECT count(*) FROM t").value(), 1);

  // Nested BEGIN is SQLite's error, reported as such.
  auto outer = db.begin();
  ASSERT_TRUE(outer);
  auto inner = db.begin();
  ASSERT_FALSE(inner);
  EXPECT_EQ(inner.error(), "cannot start a transaction within a transaction");
}

TEST(SqliteTest, MovesTransferOwnership) {
  auto db = memory_db();
  ASSERT_TRUE(db.exec("CREATE TABLE t (x)"));
  auto statement = db.prepare("SELECT count(*) FROM t");
  ASSERT_TRUE(statement);
  Statement moved = std::move(*statement);
  EXPECT_FALSE(*statement);
  EXPECT_TRUE(moved);
  ASSERT_TRUE(moved.step().value());
  EXPECT_EQ(moved.column_int64(0), 0);
  moved.reset();

  // A statement on an empty slot reports an error instead of crashing.
  Statement empty;
  EXPECT_FALSE(empty.step());

  Database other = std::move(db);
  EXPECT_FALSE(db);
  EXPECT_TRUE(other);
  EXPECT_FALSE(db.exec("SELECT 1"));
  EXPECT_TRUE(other.exec("INSERT INTO t VALUES (1)"));
  ASSERT_TRUE(moved.step().value());
  EXPECT_EQ(moved.column_int64(0), 1);
  moved.reset();

  {
    auto tx = other.begin();
    ASSERT_TRUE(tx);
    auto tx2 = std::move(*tx);
    ASSERT_TRUE(other.exec("INSERT INTO t VALUES (2)"));
    ASSERT_TRUE(tx2.commit());
  }  // the moved-from one does not roll back
  EXPECT_EQ(other.query_int64("SELECT count(*) FROM t").value(), 2);
}

}  // namespace
}  // namespace coral::colony::sqlite
