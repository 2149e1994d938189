#include "model_loader/read_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace hearth {
namespace {

// Closes the descriptor on every return path.
struct Fd {
  int fd;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

}  // namespace

Result<std::string> ReadFile(const std::string& path, uint64_t max_bytes) {
  // O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer. It does not change
  // reads of regular files, the only kind read below.
  Fd f{::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK)};
  if (f.fd < 0) {
    const int err = errno;
    std::string msg = path + ": cannot open: " + std::strerror(err);
    return err == ENOENT ? NotFoundError(msg) : InvalidArgumentError(msg);
  }
  struct stat st {};
  if (::fstat(f.fd, &st) != 0) {
    return InvalidArgumentError(path + ": cannot stat: " + std::strerror(errno));
  }
  // A FIFO or device would block or never end; a directory reads as an error (EISDIR).
  if (!S_ISREG(st.st_mode)) return InvalidArgumentError(path + ": not a regular file");
  const uint64_t size = static_cast<uint64_t>(st.st_size);
  if (size > max_bytes) {
    return ResourceExhaustedError(path + ": " + std::to_string(size) + " bytes, more than the " +
                                  std::to_string(max_bytes) + " a text file may have");
  }
  std::string out(size, '\0');
  size_t done = 0;
  while (done < out.size()) {
    const ssize_t n = ::read(f.fd, out.data() + done, out.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return DataLossError(path + ": read error: " + std::strerror(errno));
    if (n == 0) break;  // the file shrank since fstat: keep what is there
    done += static_cast<size_t>(n);
  }
  out.resize(done);
  return out;
}

}  // namespace hearth
