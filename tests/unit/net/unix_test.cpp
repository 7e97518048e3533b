// Unix-domain listeners and the Unix dialer (net/unix.h): the socket's
// mode, stale and live socket files, paths too long, and bytes both ways.

#include "net/unix.h"

#include <gtest/gtest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/local/stream_protocol.hpp>

#include "bounded_io.h"

namespace coral::net {
namespace {

namespace asio = boost::asio;
namespace fs = std::filesystem;
using coral::testing::run;

class UnixTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("coral-unix-" + std::to_string(::getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  fs::path dir_;
  asio::io_context io_{1};
};

mode_t mode_of(const fs::path& path) {
  struct stat st{};
  EXPECT_EQ(::lstat(path.c_str(), &st), 0) << path;
  return st.st_mode;
}

TEST_F(UnixTest, CreatesTheSocketOwnerOnlyWhateverTheUmask) {
  const auto old = ::umask(0);
  auto listener = listen_unix(io_.get_executor(), dir_ / "a.sock");
  ::umask(old);
  ASSERT_TRUE(listener) << listener.error().message();
  const mode_t mode = mode_of(dir_ / "a.sock");
  EXPECT_TRUE(S_ISSOCK(mode));
  EXPECT_EQ(mode & 0777, 0600u);
  EXPECT_EQ((*listener)->local_address(), (dir_ / "a.sock").string());
  EXPECT_EQ((*listener)->local_port(), 0);
}

TEST_F(UnixTest, CarriesBytesBothWays) {
  const fs::path path = dir_ / "echo.sock";
  auto listener = listen_unix(io_.get_executor(), path);
  ASSERT_TRUE(listener) << listener.error().message();
  auto server = [&]() -> Awaitable<bool> {
    auto stream = co_await (*listener)->accept();
    if (!stream) co_return false;
    std::array<std::byte, 16> buffer{};
    auto n = co_await (*stream)->read_some(buffer);
    if (!n) co_return false;
    auto written = co_await (*stream)->write(std::span(buffer).first(*n));
    co_return !written;
  };
  bool served = false;
  asio::co_spawn(io_, server(), [&](std::exception_ptr, bool ok) { served = ok; });
  auto client = [&]() -> Awaitable<std::string> {
    Dialer dial = unix_dialer(io_.get_executor(), path);
    const Target target{"ignored", 1};
    auto stream = co_await dial(target);
    if (!stream) co_return "dial: " + stream.error().message();
    EXPECT_EQ((*stream)->remote_address(), "unix");
    const std::string hello = "hello";
    auto written = co_await (*stream)->write(std::as_bytes(std::span(hello)));
    if (written) co_return "write: " + written.message();
    std::array<std::byte, 16> buffer{};
    auto n = co_await (*stream)->read_some(buffer);
    if (!n) co_return "read: " + n.error().message();
    co_return std::string(reinterpret_cast<const char*>(buffer.data()), *n);
  };
  EXPECT_EQ(run(io_, client()), "hello");
  EXPECT_TRUE(served);
}

TEST_F(UnixTest, ReplacesAStaleSocketFile) {
  const fs::path path = dir_ / "stale.sock";
  {
    // Bound, never listened on, then closed: what a killed process leaves.
    asio::local::stream_protocol::acceptor acceptor(io_);
    acceptor.open();
    acceptor.bind(asio::local::stream_protocol::endpoint(path.native()));
  }
  ASSERT_TRUE(S_ISSOCK(mode_of(path)));
  auto listener = listen_unix(io_.get_executor(), path);
  ASSERT_TRUE(listener) << listener.error().message();
  EXPECT_EQ(mode_of(path) & 0777, 0600u);
}

TEST_F(UnixTest, RefusesASocketSomeoneListensOn) {
  const fs::path path = dir_ / "live.sock";
  auto first = listen_unix(io_.get_executor(), path);
  ASSERT_TRUE(first) << first.error().message();
  auto second = listen_unix(io_.get_executor(), path);
  ASSERT_FALSE(second);
  EXPECT_EQ(second.error(), std::errc::address_in_use);
  EXPECT_EQ(describe_unix_error(path, second.error()),
            path.string() + ": " + second.error().message() + " (another process listens on it)");
  // The first one still serves.
  EXPECT_TRUE(S_ISSOCK(mode_of(path)));
}

TEST_F(UnixTest, NeverRemovesAFileThatIsNoSocket) {
  const fs::path path = dir_ / "notes.txt";
  std::ofstream(path) << "keep me";
  auto listener = listen_unix(io_.get_executor(), path);
  ASSERT_FALSE(listener);
  EXPECT_EQ(listener.error(), std::errc::file_exists);
  EXPECT_TRUE(fs::is_regular_file(path));
}

TEST_F(UnixTest, RefusesAFileNameTooLongForSunPath) {
  const fs::path path = dir_ / (std::string(120, 'x') + ".sock");
  auto listener = listen_unix(io_.get_executor(), path);
  ASSERT_FALSE(listener);
  EXPECT_EQ(listener.error(), std::errc::filename_too_long);
  const std::string text = describe_unix_error(path, listener.error());
  EXPECT_NE(text.find("a Unix socket's file name is at most about 90 bytes"), std::string::npos) << text;
  EXPECT_FALSE(fs::exists(path));
}

// A config directory deep in the tree: the path is longer than sun_path,
// the socket is bound and reached through the directory's descriptor.
TEST_F(UnixTest, ServesAndDialsAPathLongerThanSunPath) {
  const fs::path deep = dir_ / std::string(60, 'd') / std::string(60, 'e');
  fs::create_directories(deep);
  const fs::path path = deep / "colony.sock";
  ASSERT_GT(path.native().size(), kMaxUnixPathBytes);
  auto listener = listen_unix(io_.get_executor(), path);
  ASSERT_TRUE(listener) << listener.error().message();
  EXPECT_TRUE(S_ISSOCK(mode_of(path)));
  EXPECT_EQ(mode_of(path) & 0777, 0600u);
  bool accepted = false;
  asio::co_spawn(
      io_, [&]() -> Awaitable<void> { accepted = static_cast<bool>(co_await (*listener)->accept()); },
      [](std::exception_ptr) {});
  auto dialed = run(io_, [&]() -> Awaitable<std::error_code> {
    Dialer dialer = unix_dialer(io_.get_executor(), path);
    const Target target{};
    auto stream = co_await dialer(target);
    co_return stream ? std::error_code() : stream.error();
  }());
  ASSERT_TRUE(dialed);
  EXPECT_FALSE(*dialed) << dialed->message();
  EXPECT_TRUE(coral::testing::run_until(io_, [&] { return accepted; }));
  // A second listener finds the first one through the same name.
  auto second = listen_unix(io_.get_executor(), path);
  ASSERT_FALSE(second);
  EXPECT_EQ(second.error(), std::errc::address_in_use);
}

TEST_F(UnixTest, RemoveUnixSocketRemovesSocketsOnly) {
  const fs::path path = dir_ / "gone.sock";
  {
    auto listener = listen_unix(io_.get_executor(), path);
    ASSERT_TRUE(listener);
  }
  remove_unix_socket(path);
  EXPECT_FALSE(fs::exists(path));
  const fs::path file = dir_ / "plain";
  std::ofstream(file) << "x";
  remove_unix_socket(file);
  EXPECT_TRUE(fs::exists(file));
}

TEST_F(UnixTest, DialErrorsSayWhetherAnySocketIsThere) {
  auto dial = [&](const fs::path& path) -> std::error_code {
    auto result = run(io_, [&]() -> Awaitable<std::error_code> {
      Dialer dialer = unix_dialer(io_.get_executor(), path);
      const Target target{};
      auto stream = co_await dialer(target);
      co_return stream ? std::error_code() : stream.error();
    }());
    return result.value_or(std::make_error_code(std::errc::timed_out));
  };
  EXPECT_EQ(dial(dir_ / "missing.sock"), std::errc::no_such_file_or_directory);
  const fs::path stale = dir_ / "stale.sock";
  {
    asio::local::stream_protocol::acceptor acceptor(io_);
    acceptor.open();
    acceptor.bind(asio::local::stream_protocol::endpoint(stale.native()));
  }
  EXPECT_EQ(dial(stale), std::errc::connection_refused);
  EXPECT_EQ(dial(dir_ / std::string(120, 'y')), std::errc::filename_too_long);
  EXPECT_EQ(dial(dir_ / std::string(60, 'z') / "missing.sock"), std::errc::no_such_file_or_directory);
}

}  // namespace
}  // namespace coral::net
