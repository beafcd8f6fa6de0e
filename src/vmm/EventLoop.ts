// Yielding to the host's event loop between slices of guest execution, so terminal input, disk I/O
// completions and timers are served while the guest is busy. Node has setImmediate (a macrotask
// after pending I/O); a page has none, and setTimeout(0) is clamped to 4 ms once nested (HTML
// timers §8.6), which would cap a busy guest at a fraction of the CPU, so the page posts to itself
// through a MessageChannel (a macrotask without the clamp).

type Resolve = () => void;

/** The part of the HTML MessageChannel used here (Node's typings describe their own port). */
interface Port {
  postMessage(message: unknown): void;
  onmessage: ((ev: unknown) => void) | null;
}
type Channel = new () => { port1: Port; port2: Port };

function messageChannelYield(): () => Promise<void> {
  const waiting: Resolve[] = [];
  let channel: { port1: Port; port2: Port } | undefined;
  return () =>
    new Promise<void>((resolve) => {
      if (!channel) {
        channel = new (globalThis as unknown as { MessageChannel: Channel }).MessageChannel();
        channel.port1.onmessage = () => waiting.shift()?.();
      }
      waiting.push(resolve);
      channel.port2.postMessage(0);
    });
}

/** Node's setImmediate, looked up (not named) so the page's bundle never refers to it. */
const immediate = (globalThis as Record<string, unknown>)["setImmediate"] as ((cb: () => void) => unknown) | undefined;

/** Resolves after the host's pending events have run. */
export const yieldToEventLoop: () => Promise<void> = immediate
  ? () => new Promise<void>((resolve) => void immediate(resolve))
  : messageChannelYield();
