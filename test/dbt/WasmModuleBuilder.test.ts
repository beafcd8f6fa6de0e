// The wasm writer produces modules V8 validates and runs, including 64-bit constants, shared memory
// imports and imported host functions.
import { test } from "node:test";
import assert from "node:assert/strict";
import { ByteWriter, CodeWriter, Op, ValType, WasmModuleBuilder } from "../../src/dbt/WasmModuleBuilder.js";

test("LEB128 encodings match the spec's examples", () => {
  assert.deepEqual([...new ByteWriter().u32(624485).finish()], [0xe5, 0x8e, 0x26]);
  assert.deepEqual([...new ByteWriter().s32(-123456).finish()], [0xc0, 0xbb, 0x78]);
  assert.deepEqual([...new ByteWriter().s32(63).finish()], [0x3f]);
  assert.deepEqual([...new ByteWriter().s32(64).finish()], [0xc0, 0x00]);
  assert.deepEqual([...new ByteWriter().s64(-1n).finish()], [0x7f]);
  assert.deepEqual([...new ByteWriter().s64Pair(0, 1).finish()], [...new ByteWriter().s64(1n << 32n).finish()]);
  assert.deepEqual([...new ByteWriter().s64Pair(-1, 0).finish()], [...new ByteWriter().s64(0xffffffffn).finish()]);
});

test("a module with a shared memory import, a host import and i64 arithmetic runs", () => {
  const b = new WasmModuleBuilder();
  const hostAdd = b.importFunction("env", "hostAdd", [ValType.I32], [ValType.I32]);
  b.importMemory("env", "mem", 1, 1, true);
  const c = new CodeWriter();
  // mem[8] = (i64) param0 * 0x1_0000_0001 + 0x7fffffff_ffffffff; return hostAdd(param1)
  c.i32Const(8).localGet(0).i64Const(1, 1).op(Op.I64Mul).i64Const(-1, 0x7fffffff).op(Op.I64Add).mem(Op.I64Store, 3, 0);
  c.localGet(1).call(hostAdd);
  b.addFunction([ValType.I64, ValType.I32], [ValType.I32], [ValType.I64], c, "run");
  const bytes = b.build();
  assert.ok(WebAssembly.validate(bytes));
  const mem = new WebAssembly.Memory({ initial: 1, maximum: 1, shared: true });
  const inst = new WebAssembly.Instance(new WebAssembly.Module(bytes), { env: { mem, hostAdd: (x: number) => x + 1 } });
  const run = inst.exports["run"] as (a: bigint, b: number) => number;
  assert.equal(run(3n, 41), 42);
  const got = new BigInt64Array(mem.buffer, 8, 1)[0]!;
  assert.equal(got, BigInt.asIntN(64, 3n * 0x100000001n + 0x7fffffffffffffffn));
});
