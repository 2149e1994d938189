#include "server/http_peer.h"

#include <dirent.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>

#include <cstdlib>

namespace hearth::server {
namespace {

// An end of a socket as (numeric host, port); false when it has none (not a socket, not
// connected, not IP).
bool EndOf(int fd, bool peer, std::string& host, int& port) {
  sockaddr_storage sa{};
  socklen_t len = sizeof sa;
  const int rc = peer ? getpeername(fd, reinterpret_cast<sockaddr*>(&sa), &len)
                      : getsockname(fd, reinterpret_cast<sockaddr*>(&sa), &len);
  if (rc != 0 || (sa.ss_family != AF_INET && sa.ss_family != AF_INET6)) return false;
  char h[NI_MAXHOST], s[NI_MAXSERV];
  if (getnameinfo(reinterpret_cast<sockaddr*>(&sa), len, h, sizeof h, s, sizeof s,
                  NI_NUMERICHOST | NI_NUMERICSERV) != 0)
    return false;
  host = h;
  port = std::atoi(s);
  return true;
}

}  // namespace

int FindConnectedSocket(const SocketEnds& ends) {
  DIR* dir = opendir("/proc/self/fd");
  if (dir == nullptr) return -1;
  const int own = dirfd(dir);
  int found = -1;
  std::string host;
  int port = -1;
  while (const dirent* e = readdir(dir)) {
    char* end = nullptr;
    const long fd = std::strtol(e->d_name, &end, 10);
    if (end == e->d_name || *end != '\0' || fd == own) continue;
    const int sock = static_cast<int>(fd);
    if (!EndOf(sock, false, host, port) || port != ends.local_port || host != ends.local_addr)
      continue;
    if (!EndOf(sock, true, host, port) || port != ends.remote_port || host != ends.remote_addr)
      continue;
    found = sock;
    break;
  }
  closedir(dir);
  return found;
}

int HttpPeer::fd() {
  if (!searched_) fd_ = FindConnectedSocket(ends_), searched_ = true;
  return fd_;
}

bool HttpPeer::Gone() {
  if (fd() < 0) return false;
  pollfd p{fd_, POLLRDHUP, 0};
  if (poll(&p, 1, 0) != 1) return false;
  return (p.revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL)) != 0;
}

}  // namespace hearth::server
