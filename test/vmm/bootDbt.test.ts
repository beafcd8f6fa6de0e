// Debian's stock kernel on the virt board with the binary translator (--engine dbt, docs/DBT.md)
// instead of the interpreter: it boots with the built-in SBI to the initramfs, runs a command whose
// output is checked, and powers off; and a disk write survives a guest reboot (the board re-creates
// its harts, and each new hart gets a new translator in its hart id's engine-area slot).
// Each boot is about 2e9 guest instructions, roughly a minute on a quiet 2-core host.
import { test } from "node:test";
import assert from "node:assert/strict";
import { checkDiskSurvivesReboot, debianImage, tail, typevisorRun } from "./bootHelper.js";

test(
  "--engine dbt: Debian's kernel boots with the built-in SBI, runs a command and powers off",
  { timeout: 900_000 },
  async (t) => {
    const img = await debianImage();
    if (typeof img === "string") return t.skip(img);
    // $((6*7)) and the sha256 of a fixed string exercise the shell's arithmetic and busybox's hashing
    // as translated code; the expected digest is sha256("typevisor\n").
    const cmd = "echo CMD:$((6*7)); echo typevisor | sha256sum; uname -m";
    const r = await typevisorRun(
      [
        "--kernel",
        img.kernel,
        "--initrd",
        img.initrd,
        "--append",
        `console=ttyS0 quiet tv.cmd="${cmd}"`,
        "--memory",
        "256M",
        "--engine",
        "dbt",
        "--stats",
      ],
      840_000,
    );
    assert.match(r.stdout, /TYPEVISOR-BOOT-OK/, tail(r));
    assert.match(r.stdout, /TYPEVISOR-CMD-BEGIN\r?\nCMD:42\r?\n/, tail(r));
    assert.match(r.stdout, /8421e9eef9ae8edf2c512fa055ea936b4c44fe7ada4be06b3d9dd56354808032  -/, tail(r));
    assert.match(r.stdout, /riscv64\r?\nTYPEVISOR-CMD-END rc=0/, tail(r));
    assert.match(r.stdout, /reboot: Power down/, tail(r));
    assert.equal(r.status, 0, tail(r));
    // --stats: the harts really ran on the translator, and most instructions ran as WebAssembly.
    assert.match(r.stderr, /engine: dbt/, tail(r));
    const m = /dbt: instructions translated (\d+) \(([\d.]+)%\)/.exec(r.stderr);
    assert.ok(m, tail(r));
    assert.ok(Number(m[2]) > 50, `only ${m[2]}% of the instructions ran translated\n${tail(r)}`);
  },
);

test("--engine dbt: a write to the virtio disk survives a guest reboot", { timeout: 1_800_000 }, async (t) => {
  await checkDiskSurvivesReboot(t, ["--engine", "dbt"], 1_700_000);
});
