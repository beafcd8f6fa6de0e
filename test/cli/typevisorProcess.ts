// The `typevisor` CLI as a child process, as a user runs it: output collected, a hard timeout,
// and a free loopback port for forwards. Shared by the tests that drive whole VMs (test/net,
// test/images).
import { spawn } from "node:child_process";
import { createServer, type AddressInfo } from "node:net";

export interface Child {
  stdout: string;
  stderr: string;
  done: Promise<number | null>;
  kill(): void;
}

/** Starts `node bin/typevisor.js ARGS` with ENV added; it is killed after timeoutMs. */
export function typevisor(args: string[], env: NodeJS.ProcessEnv, timeoutMs: number): Child {
  const child = spawn(process.execPath, ["bin/typevisor.js", ...args], {
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, ...env },
  });
  const c: Child = {
    stdout: "",
    stderr: "",
    done: new Promise((resolve) => child.on("close", (code) => resolve(code))),
    kill: () => child.kill("SIGKILL"),
  };
  child.stdout.setEncoding("latin1").on("data", (d: string) => (c.stdout += d));
  child.stderr.setEncoding("latin1").on("data", (d: string) => (c.stderr += d));
  const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
  void c.done.then(() => clearTimeout(timer));
  return c;
}

/** The tail of a child's output, for assertion messages. */
export function show(c: Child, stdoutChars = 3000): string {
  return `--- stdout ---\n${c.stdout.slice(-stdoutChars)}\n--- stderr ---\n${c.stderr.slice(-2000)}`;
}

/** A TCP port on 127.0.0.1 that was free a moment ago. */
export async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
  const port = (s.address() as AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}
