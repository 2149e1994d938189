// HttpPeer on real loopback TCP connections: the accepted socket is found by its ends, and the
// client closing, resetting or half-closing the connection reads as gone; a client that is
// there (also one that sent more bytes) does not.
#include "server/http_peer.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>

namespace hearth::server {
namespace {

struct Connection {
  int listener = -1, client = -1, accepted = -1;
  SocketEnds ends;  // the accepted socket's, as httplib reports a request's
  ~Connection() {
    for (int fd : {listener, client, accepted})
      if (fd >= 0) close(fd);
  }
};

// A connection over the loopback of `family`; false where the machine has no such loopback.
bool Connect(int family, Connection& c) {
  sockaddr_storage sa{};
  socklen_t len;
  if (family == AF_INET) {
    auto* a = reinterpret_cast<sockaddr_in*>(&sa);
    a->sin_family = AF_INET;
    a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    len = sizeof *a;
  } else {
    auto* a = reinterpret_cast<sockaddr_in6*>(&sa);
    a->sin6_family = AF_INET6;
    a->sin6_addr = in6addr_loopback;
    len = sizeof *a;
  }
  c.listener = socket(family, SOCK_STREAM, 0);
  if (c.listener < 0 || bind(c.listener, reinterpret_cast<sockaddr*>(&sa), len) != 0 ||
      listen(c.listener, 1) != 0 ||
      getsockname(c.listener, reinterpret_cast<sockaddr*>(&sa), &len) != 0)
    return false;
  c.client = socket(family, SOCK_STREAM, 0);
  if (connect(c.client, reinterpret_cast<sockaddr*>(&sa), len) != 0) return false;
  c.accepted = accept(c.listener, nullptr, nullptr);
  const char* host = family == AF_INET ? "127.0.0.1" : "::1";
  sockaddr_storage peer{};
  socklen_t plen = sizeof peer;
  getsockname(c.client, reinterpret_cast<sockaddr*>(&peer), &plen);
  const int client_port = ntohs(family == AF_INET
                                    ? reinterpret_cast<sockaddr_in*>(&peer)->sin_port
                                    : reinterpret_cast<sockaddr_in6*>(&peer)->sin6_port);
  const int server_port = ntohs(family == AF_INET
                                    ? reinterpret_cast<sockaddr_in*>(&sa)->sin_port
                                    : reinterpret_cast<sockaddr_in6*>(&sa)->sin6_port);
  c.ends = {host, server_port, host, client_port};
  return c.accepted >= 0;
}

TEST(HttpPeerTest, FindsTheAcceptedSocketNotTheClientsOrTheListener) {
  for (int family : {AF_INET, AF_INET6}) {
    Connection c;
    if (!Connect(family, c)) {
      EXPECT_EQ(family, AF_INET6) << "no IPv4 loopback";
      continue;
    }
    // The client's socket has the same pair of ends, the other way round.
    EXPECT_EQ(FindConnectedSocket(c.ends), c.accepted) << family;
    const SocketEnds reversed{c.ends.remote_addr, c.ends.remote_port, c.ends.local_addr,
                              c.ends.local_port};
    EXPECT_EQ(FindConnectedSocket(reversed), c.client) << family;
    SocketEnds other = c.ends;
    other.remote_port = other.remote_port == 1 ? 2 : 1;
    EXPECT_EQ(FindConnectedSocket(other), -1) << family;
  }
}

TEST(HttpPeerTest, AClientThatIsThereIsNotGone) {
  Connection c;
  ASSERT_TRUE(Connect(AF_INET, c));
  HttpPeer peer(c.ends);
  EXPECT_FALSE(peer.Gone());
  EXPECT_EQ(peer.fd(), c.accepted);
  // A pipelined next request waiting to be read is not a hang-up.
  ASSERT_EQ(write(c.client, "GET / HTTP/1.1\r\n", 16), 16);
  EXPECT_FALSE(peer.Gone());
}

TEST(HttpPeerTest, CloseResetAndHalfCloseAreGone) {
  for (int how = 0; how < 3; ++how) {
    Connection c;
    ASSERT_TRUE(Connect(AF_INET, c));
    HttpPeer peer(c.ends);
    ASSERT_FALSE(peer.Gone());
    if (how == 0) {
      close(c.client);  // a timeout or a cancelled call
      c.client = -1;
    } else if (how == 1) {
      const linger reset{1, 0};  // RST instead of FIN
      setsockopt(c.client, SOL_SOCKET, SO_LINGER, &reset, sizeof reset);
      close(c.client);
      c.client = -1;
    } else {
      shutdown(c.client, SHUT_WR);
    }
    bool gone = false;  // loopback delivers at once; allow the kernel a moment
    for (int i = 0; i < 100 && !(gone = peer.Gone()); ++i) usleep(1000);
    EXPECT_TRUE(gone) << "case " << how;
  }
}

TEST(HttpPeerTest, UnknownEndsAreNeverGone) {
  HttpPeer peer({"127.0.0.1", 1, "127.0.0.1", 2});
  EXPECT_FALSE(peer.Gone());
  EXPECT_EQ(peer.fd(), -1);
}

}  // namespace
}  // namespace hearth::server
