#include "base/file.h"

#include <fcntl.h>
#include <sys/random.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <cstdint>

#include "base/text.h"

namespace coral::base {
namespace {

using Error = std::unexpected<std::string>;

std::string system_error(int error) { return std::generic_category().message(error); }

// Removes the temporary file when the write did not complete.
struct TempFile {
  std::string path;
  bool committed = false;
  ~TempFile() {
    if (!committed && !path.empty()) ::unlink(path.c_str());
  }
};

std::unexpected<std::string> write_error(const std::filesystem::path& path, std::string_view what, int error) {
  return Error("cannot write " + path.string() + ": " + std::string(what) + ": " + system_error(error));
}

// 48 bits that make the temporary file's name unlikely to be taken (O_EXCL
// refuses a taken one anyway): getrandom(2), or the clock and the PID where
// it fails.
std::array<std::uint8_t, 6> name_suffix() {
  std::array<std::uint8_t, 6> bytes{};
  ssize_t n = -1;
  do {
    n = ::getrandom(bytes.data(), bytes.size(), GRND_NONBLOCK);
  } while (n < 0 && errno == EINTR);
  if (n == static_cast<ssize_t>(bytes.size())) return bytes;
  const auto now = static_cast<std::uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
  const std::uint64_t mixed = now ^ (static_cast<std::uint64_t>(::getpid()) << 32);
  for (std::size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<std::uint8_t>(mixed >> (8 * i));
  return bytes;
}

}  // namespace

std::expected<void, std::string> write_file_atomically(const std::filesystem::path& path, std::string_view content,
                                                       unsigned mode, Overwrite overwrite) {
  if (path.filename().empty()) return Error("cannot write " + path.string() + ": not a file name");
  const std::filesystem::path directory = path.has_parent_path() ? path.parent_path() : std::filesystem::path(".");

  // Hidden, and not ending in the file's extension, so that nothing lists it
  // (as a colony, say).
  TempFile temp{(directory / ("." + path.filename().string() + ".tmp-" + hex(name_suffix()))).string()};

  const int fd =
      ::open(temp.path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, static_cast<mode_t>(mode));
  if (fd < 0) {
    const int error = errno;
    temp.path.clear();  // not ours to remove
    return write_error(path, "cannot create a temporary file in " + directory.string(), error);
  }
  std::size_t done = 0;
  while (done < content.size()) {
    const ssize_t n = ::write(fd, content.data() + done, content.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int error = errno;
      ::close(fd);
      return write_error(path, "write", error);
    }
    done += static_cast<std::size_t>(n);
  }
  if (::fsync(fd) != 0) {
    const int error = errno;
    ::close(fd);
    return write_error(path, "fsync", error);
  }
  if (::close(fd) != 0) return write_error(path, "close", errno);

  if (overwrite == Overwrite::yes) {
    if (::rename(temp.path.c_str(), path.c_str()) != 0) return write_error(path, "rename", errno);
  } else if (::renameat2(AT_FDCWD, temp.path.c_str(), AT_FDCWD, path.c_str(), RENAME_NOREPLACE) != 0) {
    if (errno == EEXIST) return Error(path.string() + " already exists");
    if (errno != EINVAL && errno != ENOSYS) return write_error(path, "rename", errno);
    // A file system without RENAME_NOREPLACE: link() refuses to replace too.
    if (::link(temp.path.c_str(), path.c_str()) != 0) {
      if (errno == EEXIST) return Error(path.string() + " already exists");
      return write_error(path, "link", errno);
    }
    ::unlink(temp.path.c_str());
  }
  temp.committed = true;

  // Make the rename itself durable. Best effort: the file is in place.
  const int dir_fd = ::open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd >= 0) {
    ::fsync(dir_fd);
    ::close(dir_fd);
  }
  return {};
}

std::error_code probe_writable(const std::filesystem::path& directory) {
  const int fd = ::open(directory.c_str(), O_TMPFILE | O_WRONLY | O_CLOEXEC, 0600);
  if (fd < 0) return {errno, std::generic_category()};
  std::error_code result;
  const std::string block(4096, '\0');
  if (::write(fd, block.data(), block.size()) < 0 || ::fsync(fd) != 0) result = {errno, std::generic_category()};
  ::close(fd);
  return result;
}

}  // namespace coral::base
