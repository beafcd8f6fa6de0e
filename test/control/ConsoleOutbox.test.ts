// The VM process's console outbox: bounded, drops the oldest output and counts it, keeps order.
import { test } from "node:test";
import assert from "node:assert/strict";
import { ConsoleOutbox } from "../../src/control/ConsoleOutbox.js";

const bytes = (from: number, n: number) => Uint8Array.from({ length: n }, (_, i) => (from + i) & 255);

test("with no channel, the newest `capacity` bytes wait and the rest is counted as dropped", () => {
  const o = new ConsoleOutbox(1000, 500, 100);
  for (let i = 0; i < 50; i++) o.push(bytes(i * 70, 70));
  o.push(bytes(3500, 5000)); // one write larger than the whole outbox
  assert.equal(o.waiting, 1000);
  assert.equal(o.droppedBytes, 50 * 70 + 5000 - 1000);
  const got: number[] = [];
  o.connect((d, done) => {
    got.push(...d);
    done();
    return true;
  });
  assert.deepEqual(got, [...bytes(3500 + 4000, 1000)], "the newest bytes, in order");
});

test("a slow channel holds at most `window` bytes in flight; output is delivered in order, none lost while it keeps up", () => {
  const o = new ConsoleOutbox(1000, 300, 100);
  const pending: (() => void)[] = [];
  const got: number[] = [];
  let inFlight = 0;
  let peak = 0;
  o.connect((d, done) => {
    got.push(...d);
    inFlight += d.length;
    peak = Math.max(peak, inFlight);
    pending.push(() => {
      inFlight -= d.length;
      done();
    });
    return true;
  });
  let sent = 0;
  for (let round = 0; round < 100; round++) {
    o.push(bytes(sent, 50));
    sent += 50;
    if (round % 2 === 0) pending.shift()?.();
    else if (round % 4 === 1) pending.shift()?.();
  }
  while (pending.length) pending.shift()!();
  assert.ok(peak <= 300, `in flight peaked at ${peak}`);
  assert.equal(o.droppedBytes + got.length, sent);
  // Three completions per four pushes keep the backlog under the capacity: nothing is lost.
  assert.equal(o.droppedBytes, 0, "a channel that keeps up within capacity loses nothing");
  assert.deepEqual(got, [...bytes(0, sent)]);
});

test("a channel that went away: the chunk in it is counted dropped, later output waits for the next one", () => {
  const o = new ConsoleOutbox(1000, 500, 100);
  o.connect(() => false);
  o.push(bytes(0, 80));
  assert.equal(o.droppedBytes, 80);
  o.push(bytes(80, 40));
  assert.equal(o.waiting, 40);
  const got: number[] = [];
  o.connect((d, done) => {
    got.push(...d);
    done();
    return true;
  });
  assert.deepEqual(got, [...bytes(80, 40)]);
});
