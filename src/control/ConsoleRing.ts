// A bounded ring of recent console output, so a client that attaches late sees what the guest
// printed before (like a serial console server's scrollback). Old bytes are overwritten.
export class ConsoleRing {
  private buf: Uint8Array;
  private start = 0;
  private len = 0;
  /** Total bytes ever written (lets clients tell how much they missed). */
  total = 0;

  constructor(readonly capacity = 256 * 1024) {
    this.buf = new Uint8Array(capacity);
  }

  write(data: Uint8Array): void {
    this.total += data.length;
    if (data.length >= this.capacity) {
      this.buf.set(data.subarray(data.length - this.capacity));
      this.start = 0;
      this.len = this.capacity;
      return;
    }
    let end = (this.start + this.len) % this.capacity;
    const first = Math.min(data.length, this.capacity - end);
    this.buf.set(data.subarray(0, first), end);
    this.buf.set(data.subarray(first), 0);
    end = (end + data.length) % this.capacity;
    const newLen = this.len + data.length;
    if (newLen > this.capacity) {
      this.start = (this.start + newLen - this.capacity) % this.capacity;
      this.len = this.capacity;
    } else {
      this.len = newLen;
    }
  }

  /** The buffered bytes, oldest first. */
  contents(): Uint8Array {
    const out = new Uint8Array(this.len);
    const first = Math.min(this.len, this.capacity - this.start);
    out.set(this.buf.subarray(this.start, this.start + first));
    out.set(this.buf.subarray(0, this.len - first), first);
    return out;
  }
}
