// An epoll instance (epoll(7)): the interest list of an epoll descriptor. Like Linux it holds no
// reference on the files it watches; an entry whose file has been closed everywhere is dropped
// the next time the list is looked at.
import { OpenFile, O_RDWR } from "./OpenFile.js";

export interface EpollInterest {
  readonly fd: number;
  readonly file: OpenFile;
  /** Requested events (EPOLLIN, EPOLLOUT...; EPOLLONESHOT, EPOLLET flags). */
  events: number;
  /** The user's epoll_data, returned as given. */
  data: bigint;
}

export class EpollFile extends OpenFile {
  readonly interests = new Map<number, EpollInterest>();
  constructor(flags: number) {
    super(O_RDWR | flags);
  }
  release(): void {
    this.interests.clear();
  }
}
