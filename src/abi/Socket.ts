// A socket (socket(7)) as an open file description. Node has no synchronous socket API, so each
// kind keeps the host side asynchronous (net, dgram) and the guest side synchronous: a call that
// cannot finish now returns WOULD_BLOCK (EAGAIN for a non-blocking socket; otherwise the calling
// thread parks on rxWait/txWait with its pc on the ecall and retries when host events wake it) or
// PENDING (host work the guest cannot see, such as the bind behind a UDP send: the caller parks
// even on a non-blocking socket, as the Linux call would not have returned EAGAIN there).
import { OpenFile, O_RDWR, WaitQueue } from "./OpenFile.js";
import type { SockAddr } from "./SockAddr.js";

export const SOCK_STREAM = 1;
export const SOCK_DGRAM = 2;
export const SOCK_SEQPACKET = 5;

// send/recv flags (include/linux/socket.h).
export const MSG_PEEK = 0x2;
export const MSG_TRUNC = 0x20;
export const MSG_DONTWAIT = 0x40;
export const MSG_WAITALL = 0x100;
export const MSG_NOSIGNAL = 0x4000;

export const SHUT_RD = 0;
export const SHUT_WR = 1;
export const SHUT_RDWR = 2;

/** The call cannot complete now: EAGAIN when non-blocking, else sleep and retry. */
export const WOULD_BLOCK = Symbol("would-block");
/** Host work in progress that Linux would have done synchronously: sleep and retry, whatever O_NONBLOCK says. */
export const PENDING = Symbol("pending");
export type SockResult = number | typeof WOULD_BLOCK | typeof PENDING;

/** Most bytes buffered on our side per direction before the host socket is paused (no unbounded queues). */
export const SOCK_BUFFER = 256 * 1024;

export interface Received {
  data: Uint8Array;
  from?: SockAddr;
  /** The datagram's full length when it was longer than asked for (MSG_TRUNC). */
  fullLength: number;
  /** Descriptions passed with SCM_RIGHTS (AF_UNIX only), to be installed by the receiver. */
  rights?: OpenFile[];
}

let nextIno = 20000;

export abstract class Socket extends OpenFile {
  /** Readable data, a connection to accept, EOF, an error, a finished connect. */
  readonly rxWait = new WaitQueue();
  /** Room to write, a finished connect. */
  readonly txWait = new WaitQueue();
  /** SO_ERROR: an asynchronous error, reported once. */
  pendingError = 0;
  /** setsockopt values kept for getsockopt, keyed level << 16 | name. */
  readonly options = new Map<number, Uint8Array>();
  readonly ino = nextIno++;
  listening = false;

  constructor(
    flags: number,
    readonly domain: number,
    readonly type: number,
    readonly protocol: number,
  ) {
    super(O_RDWR | flags);
  }

  /** [readable, writable, hung up] now. */
  abstract readiness(): [boolean, boolean, boolean];
  abstract bind(addr: SockAddr): SockResult;
  abstract listen(backlog: number): SockResult;
  /** A connected socket from the accept queue, or an errno/WOULD_BLOCK. */
  abstract accept(): Socket | SockResult;
  /** nonBlocking: a stream connect returns EINPROGRESS at once and completes in the background. */
  abstract connect(addr: SockAddr, nonBlocking: boolean): SockResult;
  abstract send(data: Uint8Array, to: SockAddr | undefined, rights?: OpenFile[]): SockResult;
  abstract recv(max: number, flags: number): Received | SockResult;
  abstract shutdown(how: number): SockResult;
  abstract localAddr(): SockAddr;
  /** The peer's address, or undefined (ENOTCONN). */
  abstract peerAddr(): SockAddr | undefined;
  /** Bytes that a read would return now (FIONREAD/SIOCINQ). */
  abstract available(): number;
  /** Registers a sleeping caller on everything that can change this socket's readiness. */
  watch(wake: () => void): void {
    this.rxWait.add(wake);
    this.txWait.add(wake);
  }
  /** Applies an option the host side cares about (TCP_NODELAY, SO_KEEPALIVE...). */
  applyOption(_level: number, _name: number, _value: number): void {}
}
