// PID files held with flock: who holds them, what is left when the holder
// exits or is killed, and taking over a stale one. The holder is this
// process or a forked child (a real second process: flock conflicts are
// per open file, so both work, but only a child can die).

#include "base/pid_file.h"

#include <gtest/gtest.h>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

namespace coral::base {
namespace {

namespace fs = std::filesystem;
using Kind = PidFileState::Kind;

std::string read_text(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

void write_text(const fs::path& path, const std::string& text) { std::ofstream(path) << text; }

class PidFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("coral-pid-file-" + std::to_string(::getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    path_ = dir_ / "colony.pid";
  }
  void TearDown() override { fs::remove_all(dir_); }

  fs::path dir_;
  fs::path path_;
};

// A child process that holds the PID file until told to exit (or killed).
// Every wait is bounded: the child gives up after 30 s (alarm), and exits
// when the parent goes away (its pipe closes).
class Holder {
 public:
  explicit Holder(const fs::path& path) {
    int ready[2];
    int release[2];
    if (::pipe(ready) != 0 || ::pipe(release) != 0) return;
    pid_ = ::fork();
    if (pid_ == 0) {
      ::close(ready[0]);
      ::close(release[1]);
      ::alarm(30);
      char status = 'x';
      {
        auto held = PidFile::acquire(path);
        status = held ? 'y' : 'n';
        (void)!::write(ready[1], &status, 1);
        char ignored;
        (void)!::read(release[0], &ignored, 1);
      }  // the PidFile's destructor removes the file
      ::_exit(status == 'y' ? 0 : 1);
    }
    ::close(ready[1]);
    ::close(release[0]);
    release_ = release[1];
    pollfd fd{.fd = ready[0], .events = POLLIN, .revents = 0};
    char status = 0;
    if (pid_ > 0 && ::poll(&fd, 1, 10'000) == 1 && ::read(ready[0], &status, 1) == 1) acquired_ = status == 'y';
    ::close(ready[0]);
  }
  ~Holder() {
    if (release_ >= 0) ::close(release_);
    if (pid_ > 0 && !reaped_) {
      ::kill(pid_, SIGKILL);
      wait();
    }
  }

  pid_t pid() const { return pid_; }
  bool acquired() const { return acquired_; }

  // Lets the child drop the file and exit; its exit status.
  std::optional<int> exit() {
    ::close(release_);
    release_ = -1;
    return wait();
  }
  // SIGKILL: the lock goes with the process, the file stays.
  void kill() {
    ::kill(pid_, SIGKILL);
    wait();
  }

 private:
  std::optional<int> wait() {
    int status = 0;
    if (::waitpid(pid_, &status, 0) != pid_) return std::nullopt;
    reaped_ = true;
    return WIFEXITED(status) ? std::optional<int>(WEXITSTATUS(status)) : std::nullopt;
  }

  pid_t pid_ = -1;
  int release_ = -1;
  bool acquired_ = false;
  bool reaped_ = false;
};

TEST_F(PidFileTest, AcquireWritesThisPidWithMode0600AndDestructionRemovesTheFile) {
  {
    auto held = PidFile::acquire(path_);
    ASSERT_TRUE(held) << held.error();
    EXPECT_EQ(held->path(), path_);
    EXPECT_EQ(read_text(path_), std::to_string(::getpid()) + "\n");
    struct stat info {};
    ASSERT_EQ(::stat(path_.c_str(), &info), 0);
    EXPECT_EQ(info.st_mode & 07777, 0600U);

    const PidFileState state = read_pid_file(path_);
    EXPECT_EQ(state.kind, Kind::running);
    EXPECT_EQ(state.pid, ::getpid());
  }
  EXPECT_FALSE(fs::exists(path_));
  EXPECT_EQ(read_pid_file(path_).kind, Kind::absent);
  EXPECT_EQ(read_pid_file(path_).pid, 0);
}

TEST_F(PidFileTest, SecondAcquireSaysAlreadyRunningWithTheHoldersPid) {
  auto first = PidFile::acquire(path_);
  ASSERT_TRUE(first) << first.error();
  auto second = PidFile::acquire(path_);
  ASSERT_FALSE(second);
  EXPECT_EQ(second.error(), "already running (pid " + std::to_string(::getpid()) + ")");
  // The refused attempt leaves the holder's file alone.
  EXPECT_EQ(read_text(path_), std::to_string(::getpid()) + "\n");
  EXPECT_EQ(read_pid_file(path_).kind, Kind::running);
}

TEST_F(PidFileTest, ReacquireAfterRelease) {
  for (int round = 0; round < 3; ++round) {
    auto held = PidFile::acquire(path_);
    ASSERT_TRUE(held) << "round " << round << ": " << held.error();
    EXPECT_EQ(read_pid_file(path_).kind, Kind::running);
  }
  EXPECT_FALSE(fs::exists(path_));
}

TEST_F(PidFileTest, MovedFromHolderNeitherRemovesNorReleases) {
  std::optional<PidFile> moved;
  {
    auto held = PidFile::acquire(path_);
    ASSERT_TRUE(held) << held.error();
    moved.emplace(std::move(*held));
  }  // the moved-from PidFile dies here
  EXPECT_TRUE(fs::exists(path_));
  EXPECT_EQ(read_pid_file(path_).kind, Kind::running);
  EXPECT_FALSE(PidFile::acquire(path_));
  moved.reset();
  EXPECT_FALSE(fs::exists(path_));
}

TEST_F(PidFileTest, UnheldFileIsStaleWithWhatItSaysAndIsTakenOver) {
  write_text(path_, "4242424\n");
  PidFileState state = read_pid_file(path_);
  EXPECT_EQ(state.kind, Kind::stale);
  EXPECT_EQ(state.pid, 4242424);
  EXPECT_TRUE(fs::exists(path_));  // reading does not remove it

  auto held = PidFile::acquire(path_);
  ASSERT_TRUE(held) << held.error();
  // Rewritten, not overwritten in place: nothing of the longer old number left.
  EXPECT_EQ(read_text(path_), std::to_string(::getpid()) + "\n");
}

TEST_F(PidFileTest, UnreadableContentIsStaleWithPidZero) {
  write_text(path_, "");
  EXPECT_EQ(read_pid_file(path_).kind, Kind::stale);
  EXPECT_EQ(read_pid_file(path_).pid, 0);
  write_text(path_, "not a pid\n");
  EXPECT_EQ(read_pid_file(path_).kind, Kind::stale);
  EXPECT_EQ(read_pid_file(path_).pid, 0);
  EXPECT_TRUE(PidFile::acquire(path_));
}

TEST_F(PidFileTest, MissingDirectoryIsAnErrorNamingThePath) {
  const fs::path path = dir_ / "missing" / "colony.pid";
  auto held = PidFile::acquire(path);
  ASSERT_FALSE(held);
  EXPECT_NE(held.error().find(path.string()), std::string::npos) << held.error();
  EXPECT_NE(held.error().find("No such file or directory"), std::string::npos) << held.error();
  EXPECT_EQ(read_pid_file(path).kind, Kind::absent);
}

TEST_F(PidFileTest, ChildHolderIsRunningThenAbsentWhenItExits) {
  Holder child(path_);
  ASSERT_GT(child.pid(), 0);
  ASSERT_TRUE(child.acquired());

  const PidFileState state = read_pid_file(path_);
  EXPECT_EQ(state.kind, Kind::running);
  EXPECT_EQ(state.pid, child.pid());
  auto refused = PidFile::acquire(path_);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error(), "already running (pid " + std::to_string(child.pid()) + ")");

  EXPECT_EQ(child.exit(), 0);
  EXPECT_FALSE(fs::exists(path_));
  EXPECT_EQ(read_pid_file(path_).kind, Kind::absent);
  auto held = PidFile::acquire(path_);
  ASSERT_TRUE(held) << held.error();
}

TEST_F(PidFileTest, KilledChildLeavesAStaleFileThatIsTakenOver) {
  Holder child(path_);
  ASSERT_GT(child.pid(), 0);
  ASSERT_TRUE(child.acquired());
  const pid_t child_pid = child.pid();
  child.kill();

  ASSERT_TRUE(fs::exists(path_));  // nobody removed it
  const PidFileState state = read_pid_file(path_);
  EXPECT_EQ(state.kind, Kind::stale);
  EXPECT_EQ(state.pid, child_pid);

  auto held = PidFile::acquire(path_);
  ASSERT_TRUE(held) << held.error();
  EXPECT_EQ(read_pid_file(path_).kind, Kind::running);
  EXPECT_EQ(read_pid_file(path_).pid, ::getpid());
}

TEST_F(PidFileTest, ChildCannotTakeAFileThisProcessHolds) {
  auto held = PidFile::acquire(path_);
  ASSERT_TRUE(held) << held.error();
  Holder child(path_);
  ASSERT_GT(child.pid(), 0);
  EXPECT_FALSE(child.acquired());
  EXPECT_EQ(child.exit(), 1);
  // The child's failed attempt neither removed nor rewrote our file.
  EXPECT_EQ(read_text(path_), std::to_string(::getpid()) + "\n");
}


// ------------------------------------------------------------ strict parsing

TEST(ParsePidText, AcceptsOnlyDecimalPidsAboveOne) {
  EXPECT_EQ(parse_pid_text("4242\n"), 4242);
  EXPECT_EQ(parse_pid_text("4242"), 4242);
  EXPECT_EQ(parse_pid_text("2"), 2);
  EXPECT_EQ(parse_pid_text("2147483647"), 2147483647);
  // Number 1 is init; 0 and negatives are process groups or "everyone" for kill(2).
  for (const char* bad : {"", "\n", "-1", "-1\n", "0", "0\n", "1", "1\n", "-4242", "+4242", " 4242", "4242 ",
                          "4242\n\n", "12abc", "abc", "0x10", "2147483648", "99999999999", "4242\r\n"}) {
    EXPECT_EQ(parse_pid_text(bad), std::nullopt) << '"' << bad << '"';
  }
  EXPECT_EQ(parse_pid_text(std::string_view("42\0", 3)), std::nullopt);
}

// ------------------------------------------------- held, but not by whom it says

TEST_F(PidFileTest, HeldFileThatSaysSomethingElseIsCorruptAndNamesTheLockHolder) {
  Holder child(path_);
  ASSERT_TRUE(child.acquired());
  // Rewritten in place (same inode, as `echo -1 > file` does): the child keeps its lock.
  for (const std::string& bad : std::vector<std::string>{"-1\n", "0\n", "1\n", "", "junk\n", "12abc\n", " 42\n",
                                std::to_string(::getpid()) + "\n"}) {
    write_text(path_, bad);
    const PidFileState state = read_pid_file(path_);
    EXPECT_EQ(state.kind, Kind::corrupt) << '"' << bad << '"';
    EXPECT_EQ(state.pid, 0) << '"' << bad << '"';
    EXPECT_TRUE(state.held());
    EXPECT_EQ(state.text, bad);
    EXPECT_EQ(state.holder, child.pid()) << "from /proc/locks";
    // Taking it over is refused without trusting the content either.
    auto refused = PidFile::acquire(path_);
    ASSERT_FALSE(refused);
    if (!bad.empty() && bad != std::to_string(::getpid()) + "\n") {
      EXPECT_EQ(refused.error(), "already running (its PID file does not say which process)");
    }
  }
  write_text(path_, std::to_string(child.pid()) + "\n");
  EXPECT_EQ(read_pid_file(path_).kind, Kind::running);
  EXPECT_EQ(read_pid_file(path_).pid, child.pid());
}

TEST_F(PidFileTest, HoldsLockOnTellsTheHolderFromOtherProcesses) {
  Holder child(path_);
  ASSERT_TRUE(child.acquired());
  const int fd = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  EXPECT_TRUE(holds_lock_on(child.pid(), fd));
  EXPECT_FALSE(holds_lock_on(::getpid(), fd));  // has it open (fd), holds no lock
  EXPECT_FALSE(holds_lock_on(1, fd));
  EXPECT_FALSE(holds_lock_on(0, fd));
  EXPECT_FALSE(holds_lock_on(-1, fd));
  EXPECT_EQ(find_lock_holder(fd), child.pid());
  ::close(fd);
}

}  // namespace
}  // namespace coral::base
