// The daemon's snapshots, clones and live migration of a VM on two vCPU threads (cpus: 2): the
// two-hart guest of smp.c counts on each hart ("A<n>" busy with AMOs, "B<n>" sleeping in wfi on its
// SBI timer). Clones restored from a snapshot and a VM migrated to another daemon go on with both
// counts exactly where the source was, no gap, no repeat, no line cut.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { dirname } from "node:path";
import { call, type Endpoint } from "../../src/control/Client.js";
import { buildCGuest, hasCrossGcc } from "./guest.js";
import { startDaemon, waitFor } from "./harness.js";
import { assertSmpContinuous, smpCounts } from "../vmm/snapshot/runGuest.js";

const skip = hasCrossGcc ? false : "riscv64-linux-gnu-gcc is not installed (apt-get install gcc-riscv64-linux-gnu)";
const TOKEN = "smp-migration-test-token-0123456789";
let a: Awaited<ReturnType<typeof startDaemon>>;
let b: Awaited<ReturnType<typeof startDaemon>>;
let guest = "";

before(async () => {
  if (skip) return;
  guest = buildCGuest("smp.c");
  a = await startDaemon({ allowDirs: [dirname(guest)] });
  b = await startDaemon({ allowDirs: [dirname(guest), a.dir], token: TOKEN });
});
after(async () => {
  if (skip) return;
  await a.daemon.stop();
  await b.daemon.stop();
});

const bEp = (): Endpoint => ({ url: `http://127.0.0.1:${b.daemon.tcpPort}`, token: TOKEN });
const consoleText = async (ep: Endpoint, vm: string) => (await call(ep, "GET", `/v1/vms/${vm}/console`)).text;
/** Both harts printed at least `n` lines in `text`. */
const counted = (text: string, n: number) => (["A", "B"] as const).every((t) => smpCounts(text, t).length >= n);

async function startCounter(name: string): Promise<void> {
  const r = await call(a.ep, "POST", "/v1/vms?start=true", { name, kernel: guest, memoryMiB: 32, cpus: 2 });
  assert.equal(r.status, 201, r.text);
  await waitFor(`${name} counts on both harts`, async () => counted(await consoleText(a.ep, name), 5));
}

test("vm snapshot / vm restore of a 2-vCPU VM: clones go on with both harts' counts", { skip }, async () => {
  await startCounter("p");
  // Snapshots of the running VM pause it, gather the threads' harts and resume it: it counts on.
  for (const name of ["run1", "run2"]) {
    const before = await consoleText(a.ep, "p");
    assert.equal((await call(a.ep, "POST", "/v1/vms/p/snapshot", { name })).status, 201);
    await waitFor("p counts on after a snapshot", async () => {
      const t = await consoleText(a.ep, "p");
      return (["A", "B"] as const).every((h) => smpCounts(t, h).length >= smpCounts(before, h).length + 3);
    });
  }
  assertSmpContinuous(await consoleText(a.ep, "p"), "p after two snapshots");
  // Paused first, so the console read below ends exactly where the snapshot is.
  assert.equal((await call(a.ep, "POST", "/v1/vms/p/pause")).status, 200);
  const s = await call(a.ep, "POST", "/v1/vms/p/snapshot", { name: "smp" });
  assert.equal(s.status, 201, s.text);
  await new Promise((res) => setTimeout(res, 300)); // console output in flight to the daemon
  const atSnapshot = await consoleText(a.ep, "p");
  assert.equal((await call(a.ep, "POST", "/v1/vms/p/kill")).status, 200);
  for (const c of ["p1", "p2"]) {
    const rr = await call(a.ep, "POST", "/v1/snapshots/smp/restore", { name: c });
    assert.equal(rr.status, 201, rr.text);
    const text = await waitFor(`${c} counts on both harts`, async () => {
      const t = await consoleText(a.ep, c);
      return counted(t, 5) && t;
    });
    assertSmpContinuous(atSnapshot + text, c);
    assert.equal((await call(a.ep, "POST", `/v1/vms/${c}/kill`)).status, 200);
  }
});

test("vm migrate of a 2-vCPU VM to another daemon: both harts' counts go on there", { skip }, async (t) => {
  await startCounter("m");
  const r = await call(a.ep, "POST", "/v1/vms/m/migrate", { to: bEp().url, token: TOKEN, maxDowntimeMs: 300 });
  assert.equal(r.status, 200, r.text);
  t.diagnostic(`migration of the 2-vCPU counting guest: ${JSON.stringify((r.body as { result: unknown }).result)}`);
  const onA = (await call(a.ep, "GET", "/v1/vms/m")).body as { status: string; lastExit: { reason: string } };
  assert.equal(onA.status, "stopped");
  assert.equal(onA.lastExit.reason, "migrated");
  const aText = await consoleText(a.ep, "m");
  const bText = await waitFor("m counts on B", async () => {
    const text = await consoleText(bEp(), "m");
    return counted(text, 5) && text;
  });
  assertSmpContinuous(
    aText + bText,
    `migrated (A ends ${JSON.stringify(aText.slice(-24))}, B starts ${JSON.stringify(bText.slice(0, 24))})`,
  );
  const onB = (await call(bEp(), "GET", "/v1/vms/m")).body as { spec: { cpus: number } };
  assert.equal(onB.spec.cpus, 2);
  assert.equal((await call(bEp(), "POST", "/v1/vms/m/kill")).status, 200);
});
