// Sockets: no network stack here; descriptors are never sockets.
import { Errno } from "../Errno.js";
import type { SyscallHandlers } from "./SyscallContext.js";

/** The socket system calls by name (dispatched by Syscalls.ts). */
export const socketCalls: SyscallHandlers = {
  socket: () => -Errno.EAFNOSUPPORT,
  socketpair: () => -Errno.EAFNOSUPPORT,
  bind: (sys) => {
    sys.file(sys.int(0));
    return -Errno.ENOTSOCK;
  },
  listen: (sys) => {
    sys.file(sys.int(0));
    return -Errno.ENOTSOCK;
  },
  accept: (sys) => {
    sys.file(sys.int(0));
    return -Errno.ENOTSOCK;
  },
  connect: (sys) => {
    sys.file(sys.int(0));
    return -Errno.ENOTSOCK;
  },
  getsockname: (sys) => {
    sys.file(sys.int(0));
    return -Errno.ENOTSOCK;
  },
  getpeername: (sys) => {
    sys.file(sys.int(0));
    return -Errno.ENOTSOCK;
  },
  sendto: (sys) => {
    sys.file(sys.int(0));
    return -Errno.ENOTSOCK;
  },
  recvfrom: (sys) => {
    sys.file(sys.int(0));
    return -Errno.ENOTSOCK;
  },
  setsockopt: (sys) => {
    sys.file(sys.int(0));
    return -Errno.ENOTSOCK;
  },
  getsockopt: (sys) => {
    sys.file(sys.int(0));
    return -Errno.ENOTSOCK;
  },
  shutdown: (sys) => {
    sys.file(sys.int(0));
    return -Errno.ENOTSOCK;
  },
  sendmsg: (sys) => {
    sys.file(sys.int(0));
    return -Errno.ENOTSOCK;
  },
  recvmsg: (sys) => {
    sys.file(sys.int(0));
    return -Errno.ENOTSOCK;
  },
  accept4: (sys) => {
    sys.file(sys.int(0));
    return -Errno.ENOTSOCK;
  },
  recvmmsg: (sys) => {
    sys.file(sys.int(0));
    return -Errno.ENOTSOCK;
  },
};
