// One end of a TCP conversation with a host program (test/abi/Sockets.test.ts):
//   netpeer client PORT   connects to 127.0.0.1:PORT, sends a line, prints the reply until EOF
//   netpeer server        listens on an ephemeral loopback port, prints it, upper-cases one line back
#include <arpa/inet.h>
#include <ctype.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IONBF, 0);
  if (argc >= 3 && strcmp(argv[1], "client") == 0) {
    int c = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(atoi(argv[2])),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (connect(c, (struct sockaddr *)&a, sizeof a) != 0) return perror("connect"), 1;
    const char *msg = "hello from the guest\n";
    if (write(c, msg, strlen(msg)) != (ssize_t)strlen(msg)) return perror("write"), 1;
    char buf[256];
    ssize_t n;
    while ((n = read(c, buf, sizeof buf)) > 0) fwrite(buf, 1, n, stdout);
    return n < 0 ? 1 : 0;
  }
  if (argc >= 2 && strcmp(argv[1], "server") == 0) {
    int s = socket(AF_INET6, SOCK_STREAM, 0);
    struct sockaddr_in6 a = {.sin6_family = AF_INET6, .sin6_addr = in6addr_any};
    if (bind(s, (struct sockaddr *)&a, sizeof a) != 0 || listen(s, 1) != 0) return perror("bind"), 1;
    socklen_t len = sizeof a;
    getsockname(s, (struct sockaddr *)&a, &len);
    printf("port %d\n", ntohs(a.sin6_port));
    struct sockaddr_in6 peer;
    len = sizeof peer;
    int c = accept(s, (struct sockaddr *)&peer, &len);
    if (c < 0) return perror("accept"), 1;
    char buf[256];
    size_t got = 0;
    ssize_t n;
    while (got < sizeof buf && (n = read(c, buf + got, sizeof buf - got)) > 0) {
      got += n;
      if (memchr(buf, '\n', got)) break;
    }
    for (size_t i = 0; i < got; i++) buf[i] = toupper((unsigned char)buf[i]);
    write(c, buf, got);
    close(c);
    printf("served a v4-mapped peer: %d\n", IN6_IS_ADDR_V4MAPPED(&peer.sin6_addr));
    return 0;
  }
  return 2;
}
