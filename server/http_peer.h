// HttpPeer: whether the client of an HTTP request that is still being computed has hung up.
//
// cpp-httplib 0.11 (Debian 12's) gives a handler no access to its connection, and a handler
// that answers without streaming writes nothing until the answer is whole, so it would never
// learn that its client left (a timeout, a cancelled call): the request would hold its sequence,
// its KV blocks and an HTTP worker to its last token. HttpPeer finds the connection's socket
// among the process's descriptors by the request's address pair (the accepted socket is the one
// whose local end is the request's local address and whose peer is its remote address; the
// worker thread calling the handler keeps it open until the handler returns) and polls it: the
// client closing or resetting the connection (POLLRDHUP / POLLHUP / POLLERR) means it is gone.
// A client that only shuts down its sending side while it waits is treated as gone too, as
// HTTP servers commonly do; HTTP/1.1 clients do not do that.
//
// Only polls the socket, never reads, writes or closes it. The search runs once, on the first
// Gone() (a /proc/self/fd scan: about a microsecond per open descriptor), so requests answered
// within one poll interval never pay for it.
#pragma once

#include <string>

namespace hearth::server {

struct SocketEnds {
  std::string local_addr;  // numeric, as getnameinfo(NI_NUMERICHOST) writes it
  int local_port = -1;
  std::string remote_addr;
  int remote_port = -1;
};

class HttpPeer {
 public:
  explicit HttpPeer(SocketEnds ends) : ends_(std::move(ends)) {}

  // True once the client has closed or reset the connection. False while it is there, and
  // when its socket cannot be found (then the request runs to its end, as before).
  bool Gone();
  // The socket found for the ends (-1: none); searches on the first call.
  int fd();

 private:
  SocketEnds ends_;
  bool searched_ = false;
  int fd_ = -1;
};

// The descriptor of the connected socket with these ends, or -1.
int FindConnectedSocket(const SocketEnds& ends);

}  // namespace hearth::server
