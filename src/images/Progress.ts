// Progress reporting for pulls: bars redrawn in place on a terminal, one plain line per step and
// per quarter otherwise (logs, CI), nothing with --quiet, JSON lines with --json.

export type ProgressMode = "tty" | "plain" | "quiet" | "json";

export interface Progress {
  /** A step starts (e.g. "download linux-image-6.12...deb"). */
  begin(step: string): void;
  /** Fraction 0..1 of the current step done; `detail` like "37 MB/113 MB". */
  update(fraction: number, detail?: string): void;
  /** The current step ended. */
  end(detail?: string): void;
  /** A free-standing message. */
  note(message: string): void;
}

export interface Sink {
  write(text: string): unknown;
}

export function progressFor(
  mode: ProgressMode,
  out: Sink = process.stderr,
  columns = process.stderr.isTTY ? process.stderr.columns : 80,
): Progress {
  let step = "";
  let lastQuarter = -1;
  let lastDraw = 0;
  switch (mode) {
    case "quiet":
      return { begin() {}, update() {}, end() {}, note() {} };
    case "json": {
      const emit = (o: Record<string, unknown>) => out.write(JSON.stringify(o) + "\n");
      return {
        begin: (s) => {
          step = s;
          emit({ event: "begin", step });
        },
        update: (f, d) => {
          const q = Math.floor(f * 4);
          if (q !== lastQuarter) emit({ event: "progress", step, fraction: round(f), detail: d });
          lastQuarter = q;
        },
        end: (d) => {
          emit({ event: "end", step, detail: d });
          lastQuarter = -1;
        },
        note: (m) => emit({ event: "note", message: m }),
      };
    }
    case "plain":
      return {
        begin: (s) => {
          step = s;
          lastQuarter = 0;
        },
        update: (f, d) => {
          const q = Math.floor(f * 4);
          if (q > lastQuarter && q < 4) out.write(`${step}: ${q * 25}%${d ? ` (${d})` : ""}\n`);
          lastQuarter = Math.max(q, lastQuarter);
        },
        end: (d) => out.write(`${step}: done${d ? ` (${d})` : ""}\n`),
        note: (m) => out.write(m + "\n"),
      };
    case "tty": {
      const width = Math.max(10, Math.min(30, columns - 60));
      const draw = (f: number, d: string | undefined) => {
        const filled = Math.round(Math.min(1, Math.max(0, f)) * width);
        const bar = "#".repeat(filled) + "-".repeat(width - filled);
        const label = step.length > 40 ? step.slice(0, 37) + "..." : step.padEnd(40);
        out.write(`\r${label} [${bar}] ${String(Math.round(f * 100)).padStart(3)}%${d ? " " + d : ""}\x1b[K`);
      };
      return {
        begin: (s) => {
          step = s;
          draw(0, undefined);
        },
        update: (f, d) => {
          const now = Date.now();
          if (now - lastDraw < 80 && f < 1) return; // a terminal does not need more than ~12 redraws/s
          lastDraw = now;
          draw(f, d);
        },
        end: (d) => {
          draw(1, d);
          out.write("\n");
        },
        note: (m) => out.write(`\r\x1b[K${m}\n`),
      };
    }
  }
}

function round(f: number): number {
  return Math.round(f * 1000) / 1000;
}

/** Human-readable byte count (MiB granularity is plenty for packages). */
export function formatBytes(n: number): string {
  if (n >= 1 << 20) return `${(n / (1 << 20)).toFixed(1)} MiB`;
  if (n >= 1 << 10) return `${(n / (1 << 10)).toFixed(0)} KiB`;
  return `${n} B`;
}
