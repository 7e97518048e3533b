#include "colony/sqlite.h"

#include <sqlite3.h>

#include <climits>
#include <utility>

namespace coral::colony::sqlite {

namespace {

std::unexpected<std::string> fail(std::string message) { return std::unexpected(std::move(message)); }

}  // namespace

// ---- Statement ----

Statement::Statement(Statement&& other) noexcept : stmt_(std::exchange(other.stmt_, nullptr)) {}

Statement& Statement::operator=(Statement&& other) noexcept {
  if (this != &other) {
    sqlite3_finalize(stmt_);
    stmt_ = std::exchange(other.stmt_, nullptr);
  }
  return *this;
}

Statement::~Statement() { sqlite3_finalize(stmt_); }

std::string Statement::error() const {
  if (stmt_ == nullptr) return "statement is not prepared";
  return sqlite3_errmsg(sqlite3_db_handle(stmt_));
}

Result<> Statement::bind(int index, std::int64_t value) {
  if (sqlite3_bind_int64(stmt_, index, value) != SQLITE_OK) return fail(error());
  return {};
}

Result<> Statement::bind(int index, double value) {
  if (sqlite3_bind_double(stmt_, index, value) != SQLITE_OK) return fail(error());
  return {};
}

Result<> Statement::bind(int index, std::string_view value) {
  // A null pointer would bind NULL; an empty string must stay ''.
  const char* data = value.data() != nullptr ? value.data() : "";
  if (sqlite3_bind_text64(stmt_, index, data, value.size(), SQLITE_TRANSIENT, SQLITE_UTF8) != SQLITE_OK) {
    return fail(error());
  }
  return {};
}

Result<> Statement::bind(int index, std::nullptr_t) {
  if (sqlite3_bind_null(stmt_, index) != SQLITE_OK) return fail(error());
  return {};
}

Result<bool> Statement::step() {
  switch (sqlite3_step(stmt_)) {
    case SQLITE_ROW:
      return true;
    case SQLITE_DONE:
      return false;
    default:
      return fail(error());
  }
}

Result<> Statement::run() {
  for (;;) {
    auto row = step();
    if (!row) return fail(std::move(row).error());
    if (!*row) return {};
  }
}

int Statement::column_count() const { return sqlite3_column_count(stmt_); }

bool Statement::column_is_null(int column) const { return sqlite3_column_type(stmt_, column) == SQLITE_NULL; }

std::int64_t Statement::column_int64(int column) const { return sqlite3_column_int64(stmt_, column); }

double Statement::column_double(int column) const { return sqlite3_column_double(stmt_, column); }

std::string_view Statement::column_text(int column) const {
  // text first, then bytes: the documented order for a stable length.
  const auto* text = sqlite3_column_text(stmt_, column);
  if (text == nullptr) return {};
  const int size = sqlite3_column_bytes(stmt_, column);
  return {reinterpret_cast<const char*>(text), static_cast<std::size_t>(size)};
}

void Statement::reset() noexcept {
  if (stmt_ == nullptr) return;
  // sqlite3_reset repeats the last step's error, which was already reported.
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
}

std::string_view Statement::sql() const {
  const char* text = sqlite3_sql(stmt_);
  return text != nullptr ? std::string_view(text) : std::string_view();
}

// ---- Transaction ----

Transaction::Transaction(Transaction&& other) noexcept
    : db_(other.db_), open_(std::exchange(other.open_, false)) {}

Transaction::~Transaction() {
  if (open_) (void)rollback();
}

Result<> Transaction::commit() {
  if (!open_) return fail("transaction is not open");
  auto result = db_->exec("COMMIT");
  // A failed COMMIT (SQLITE_BUSY) leaves the transaction open: the
  // destructor then rolls it back. Any other failure has ended it.
  open_ = !result && !db_->autocommit();
  return result;
}

Result<> Transaction::rollback() {
  if (!open_) return {};
  open_ = false;
  // An error such as SQLITE_FULL may already have rolled the transaction back.
  if (db_->autocommit()) return {};
  return db_->exec("ROLLBACK");
}

// ---- Database ----

Result<Database> Database::open(const std::filesystem::path& file, Mode mode) {
  int flags = SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE;
  switch (mode) {
    case Mode::read_only:
      flags |= SQLITE_OPEN_READONLY;
      break;
    case Mode::read_write:
      flags |= SQLITE_OPEN_READWRITE;
      break;
    case Mode::read_write_create:
      flags |= SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
      break;
  }
  sqlite3* handle = nullptr;
  const int rc = sqlite3_open_v2(file.c_str(), &handle, flags, nullptr);
  if (rc != SQLITE_OK) {
    std::string message = handle != nullptr ? sqlite3_errmsg(handle) : sqlite3_errstr(rc);
    sqlite3_close_v2(handle);
    return fail(std::move(message));
  }
  return Database(handle);
}

Database::Database(Database&& other) noexcept : db_(std::exchange(other.db_, nullptr)) {}

Database& Database::operator=(Database&& other) noexcept {
  if (this != &other) {
    sqlite3_close_v2(db_);
    db_ = std::exchange(other.db_, nullptr);
  }
  return *this;
}

Database::~Database() { sqlite3_close_v2(db_); }

std::string Database::error() const { return sqlite3_errmsg(db_); }

Result<> Database::exec(std::string_view sql) {
  if (!db_) return fail("database is not open");
  // sqlite3_exec wants a terminated string.
  const std::string text(sql);
  char* message = nullptr;
  if (sqlite3_exec(db_, text.c_str(), nullptr, nullptr, &message) != SQLITE_OK) {
    std::string error = message != nullptr ? message : sqlite3_errmsg(db_);
    sqlite3_free(message);
    return fail(std::move(error));
  }
  return {};
}

Result<Statement> Database::prepare(std::string_view sql) {
  if (!db_) return fail("database is not open");
  if (sql.size() > static_cast<std::size_t>(INT_MAX)) return fail("statement too long");
  sqlite3_stmt* stmt = nullptr;
  const char* tail = nullptr;
  if (sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()), SQLITE_PREPARE_PERSISTENT, &stmt, &tail) !=
      SQLITE_OK) {
    return fail(error());
  }
  Statement statement(stmt);
  if (!statement) return fail("no statement in SQL text");
  const std::string_view rest = sql.substr(static_cast<std::size_t>(tail - sql.data()));
  if (rest.find_first_not_of(" \t\r\n;") != std::string_view::npos) {
    return fail("more than one statement in SQL text");
  }
  return statement;
}

Result<std::int64_t> Database::query_int64(std::string_view sql) {
  auto statement = prepare(sql);
  if (!statement) return fail(std::move(statement).error());
  auto row = statement->step();
  if (!row) return fail(std::move(row).error());
  if (!*row) return fail("no result row");
  return statement->column_int64(0);
}

Result<Transaction> Database::begin(Transaction::Kind kind) {
  std::string_view sql = "BEGIN IMMEDIATE";
  if (kind == Transaction::Kind::deferred) sql = "BEGIN DEFERRED";
  if (kind == Transaction::Kind::exclusive) sql = "BEGIN EXCLUSIVE";
  if (auto result = exec(sql); !result) return fail(std::move(result).error());
  return Transaction(*this);
}

std::int64_t Database::changes() const { return sqlite3_changes64(db_); }

bool Database::autocommit() const { return sqlite3_get_autocommit(db_) != 0; }

int Database::extended_error_code() const { return sqlite3_extended_errcode(db_); }

}  // namespace coral::colony::sqlite
