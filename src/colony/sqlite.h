#pragma once
// A small RAII wrapper over the SQLite C API: a Database owns a connection, a
// Statement owns a prepared statement, a Transaction rolls back unless
// committed. Failures come back as std::expected with SQLite's own message
// ("file is not a database", "UNIQUE constraint failed: peers.mesh_index");
// callers add the context (which file, which operation).
//
// Like the connection underneath, none of these objects may be used from two
// threads at once; the caller serializes.

#include <cstdint>
#include <expected>
#include <filesystem>
#include <string>
#include <string_view>

struct sqlite3;
struct sqlite3_stmt;

namespace coral::colony::sqlite {

template <class T = void>
using Result = std::expected<T, std::string>;

class Database;

// A prepared statement. Parameters are numbered from 1, columns from 0.
// A statement that has produced a row holds a read snapshot until it is
// reset: reset it (or use a ScopedReset) as soon as its rows are read.
class Statement {
 public:
  Statement() = default;
  Statement(Statement&& other) noexcept;
  Statement& operator=(Statement&& other) noexcept;
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;
  ~Statement();

  explicit operator bool() const { return stmt_ != nullptr; }

  Result<> bind(int index, std::int64_t value);
  Result<> bind(int index, std::uint32_t value) { return bind(index, static_cast<std::int64_t>(value)); }
  Result<> bind(int index, int value) { return bind(index, static_cast<std::int64_t>(value)); }
  Result<> bind(int index, double value);
  // Text is copied. An empty view binds '' (never NULL).
  Result<> bind(int index, std::string_view value);
  Result<> bind(int index, const char* value) { return bind(index, std::string_view(value)); }
  Result<> bind(int index, const std::string& value) { return bind(index, std::string_view(value)); }
  Result<> bind(int index, std::nullptr_t);

  // Binds each argument to parameters 1, 2, ... in order.
  template <class... Args>
  Result<> bind_all(const Args&... args) {
    int index = 0;
    Result<> result;
    ((result = result ? bind(++index, args) : result), ...);
    return result;
  }

  // Advances: true when a row is available, false when the statement is done.
  Result<bool> step();
  // Steps to completion, discarding rows (for INSERT/UPDATE/DELETE).
  Result<> run();

  int column_count() const;
  bool column_is_null(int column) const;
  std::int64_t column_int64(int column) const;
  double column_double(int column) const;
  // Valid until the next step(), reset() or destruction.
  std::string_view column_text(int column) const;

  // Rewinds the statement and clears its bindings, ready for the next use.
  void reset() noexcept;

  // The SQL text the statement was prepared from.
  std::string_view sql() const;

 private:
  friend class Database;
  explicit Statement(sqlite3_stmt* stmt) : stmt_(stmt) {}
  std::string error() const;

  sqlite3_stmt* stmt_ = nullptr;
};

// Resets a statement when leaving the scope, whichever way it is left.
class ScopedReset {
 public:
  explicit ScopedReset(Statement& statement) : statement_(statement) {}
  ScopedReset(const ScopedReset&) = delete;
  ScopedReset& operator=(const ScopedReset&) = delete;
  ~ScopedReset() { statement_.reset(); }

 private:
  Statement& statement_;
};

// BEGIN ... COMMIT, rolled back when destroyed uncommitted. The Database
// must outlive it (and not move meanwhile).
class Transaction {
 public:
  enum class Kind { deferred, immediate, exclusive };

  Transaction(Transaction&& other) noexcept;
  Transaction& operator=(Transaction&&) = delete;
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  ~Transaction();

  Result<> commit();
  // Explicit rollback; a no-op when SQLite already rolled back on an error.
  Result<> rollback();

 private:
  friend class Database;
  explicit Transaction(Database& db) : db_(&db) {}

  Database* db_;
  bool open_ = true;
};

class Database {
 public:
  enum class Mode {
    read_only,
    read_write,         // the file must exist
    read_write_create,  // created (by SQLite, with its default mode) if missing
  };

  // A connection to `file`; ":memory:" gives a private in-memory database.
  static Result<Database> open(const std::filesystem::path& file, Mode mode = Mode::read_write_create);

  Database() = default;
  Database(Database&& other) noexcept;
  Database& operator=(Database&& other) noexcept;
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;
  // Closes the connection. Statements still alive keep it open (as a
  // zombie) until they are destroyed too.
  ~Database();

  explicit operator bool() const { return db_ != nullptr; }

  // Runs one or more ';'-separated statements without parameters.
  Result<> exec(std::string_view sql);
  // A statement meant to be kept and reused (SQLITE_PREPARE_PERSISTENT).
  // Only the first statement of `sql` is prepared; trailing text is an error.
  Result<Statement> prepare(std::string_view sql);
  // The first column of the first row of `sql` (e.g. "PRAGMA user_version");
  // an error when there is no row.
  Result<std::int64_t> query_int64(std::string_view sql);

  Result<Transaction> begin(Transaction::Kind kind = Transaction::Kind::immediate);

  // Rows changed by the last INSERT, UPDATE or DELETE.
  std::int64_t changes() const;
  // True outside any explicit transaction.
  bool autocommit() const;
  // The extended result code of the last failed call (e.g. SQLITE_CONSTRAINT_UNIQUE).
  int extended_error_code() const;

  sqlite3* handle() const { return db_; }

 private:
  explicit Database(sqlite3* db) : db_(db) {}
  std::string error() const;

  sqlite3* db_ = nullptr;
};

}  // namespace coral::colony::sqlite
