// The API's OpenAPI 3.1 description, served at GET /openapi.json. The request schemas in it are the
// ones the daemon validates with (one source of truth).
import { vmSpecSchema } from "./VmSpec.js";

const error = { type: "object", properties: { error: { type: "string" } }, required: ["error"] } as const;
const exitRecord = {
  type: ["object", "null"],
  properties: {
    reason: { type: "string" },
    status: { type: ["integer", "null"] },
    message: { type: "string" },
    at: { type: "string" },
  },
} as const;
const vm = {
  type: "object",
  properties: {
    id: { type: "string" },
    name: { type: "string" },
    status: { type: "string", enum: ["created", "starting", "running", "paused", "stopping", "stopped"] },
    spec: { $ref: "#/components/schemas/VmSpec" },
    lastExit: exitRecord,
    createdAt: { type: "string" },
    updatedAt: { type: "string" },
    stats: { type: ["object", "null"] },
  },
} as const;

const snapshot = {
  type: "object",
  properties: {
    name: { type: "string" },
    vm: { type: "string", description: "id of the VM it was taken of" },
    vmName: { type: "string" },
    createdAt: { type: "string" },
    spec: { $ref: "#/components/schemas/VmSpec" },
    disks: { type: "array", description: "the frozen disks (copies in the snapshot's directory)" },
    bytes: { type: "integer", description: "snapshot file size" },
    pages: { type: "integer", description: "guest RAM pages" },
    storedPages: { type: "integer", description: "RAM pages stored (the others were zero)" },
    pausedMs: { type: "number", description: "time the guest was paused" },
  },
} as const;
const snapshotResponse = {
  description: "the snapshot",
  content: { "application/json": { schema: { $ref: "#/components/schemas/Snapshot" } } },
};
const snapParam = [
  { name: "name", in: "path", required: true, description: "snapshot name", schema: { type: "string" } },
];
const jsonBody = (properties: Record<string, unknown>) => ({
  required: false,
  content: { "application/json": { schema: { type: "object", additionalProperties: false, properties } } },
});

const requiredJsonBody = (required: string[], properties: Record<string, unknown>) => ({
  required: true,
  content: { "application/json": { schema: { type: "object", additionalProperties: false, required, properties } } },
});

const idParam = [{ name: "id", in: "path", required: true, description: "VM id or name", schema: { type: "string" } }];
const errs = (...codes: number[]) =>
  Object.fromEntries(
    codes.map((c) => [
      String(c),
      {
        description:
          {
            400: "invalid request",
            401: "missing or wrong bearer token",
            403: "a host path outside the directories the daemon may use (typevisor serve --allow-dir)",
            404: "no such VM",
            409: "illegal in the VM's state",
            422: "the host cannot meet the request",
          }[c] ?? "error",
        content: { "application/json": { schema: { $ref: "#/components/schemas/Error" } } },
      },
    ]),
  );
const vmResponse = {
  description: "the VM",
  content: { "application/json": { schema: { $ref: "#/components/schemas/Vm" } } },
};
const action = (summary: string, extra: number[] = []) => ({
  post: { summary, parameters: idParam, responses: { "200": vmResponse, ...errs(401, 404, 409, ...extra) } },
});

export const openApiDocument = {
  openapi: "3.1.0",
  info: {
    title: "Typevisor control plane",
    version: "1.0.0",
    description: "Creates, runs, pauses and destroys isolated VMs (the Domain 0 role).",
  },
  components: {
    securitySchemes: {
      bearer: {
        type: "http",
        scheme: "bearer",
        description: "required on TCP listeners (--listen); the Unix socket is owner-only",
      },
    },
    schemas: { VmSpec: vmSpecSchema, Vm: vm, Snapshot: snapshot, Error: error },
  },
  security: [{ bearer: [] }],
  paths: {
    "/openapi.json": { get: { summary: "this document", responses: { "200": { description: "OpenAPI document" } } } },
    "/v1/vms": {
      get: {
        summary: "list VMs",
        responses: {
          "200": {
            description: "VMs",
            content: { "application/json": { schema: { type: "array", items: { $ref: "#/components/schemas/Vm" } } } },
          },
          ...errs(401),
        },
      },
      post: {
        summary: "create a VM (add ?start=true to start it too)",
        parameters: [{ name: "start", in: "query", schema: { type: "boolean" } }],
        requestBody: {
          required: true,
          content: { "application/json": { schema: { $ref: "#/components/schemas/VmSpec" } } },
        },
        responses: { "201": vmResponse, ...errs(400, 401, 403, 409, 422) },
      },
    },
    "/v1/vms/{id}": {
      get: {
        summary: "a VM: state, config, statistics",
        parameters: idParam,
        responses: { "200": vmResponse, ...errs(401, 404) },
      },
      delete: {
        summary: "delete a VM (force=true kills it first if it runs)",
        parameters: [...idParam, { name: "force", in: "query", schema: { type: "boolean" } }],
        responses: { "204": { description: "deleted" }, ...errs(401, 404, 409) },
      },
    },
    "/v1/vms/{id}/start": action("start a created or stopped VM (its host paths are checked again: 403)", [403, 422]),
    "/v1/vms/{id}/pause": action("pause a running VM"),
    "/v1/vms/{id}/resume": action("resume a paused VM"),
    "/v1/vms/{id}/shutdown": {
      post: {
        summary: "ask the guest to power off; stop it after timeoutSeconds (default 30)",
        parameters: [
          ...idParam,
          { name: "timeoutSeconds", in: "query", schema: { type: "integer", minimum: 1, maximum: 3600 } },
        ],
        responses: { "200": vmResponse, ...errs(400, 401, 404, 409) },
      },
    },
    "/v1/vms/{id}/kill": action("end the VM's process at once (SIGKILL)"),
    "/v1/vms/{id}/resize": {
      post: {
        summary:
          "the console client's terminal size: the guest's hvc0 (virtio-console SIZE) takes it, and Typevisor's images copy it to the serial console (SIGWINCH)",
        parameters: idParam,
        requestBody: requiredJsonBody(["cols", "rows"], {
          cols: { type: "integer", minimum: 1, maximum: 1000 },
          rows: { type: "integer", minimum: 1, maximum: 1000 },
        }),
        responses: { "200": vmResponse, ...errs(400, 401, 404, 409) },
      },
    },
    "/v1/vms/{id}/snapshot": {
      post: {
        summary:
          "snapshot a running or paused VM: pause, save machine and RAM, freeze its disks, resume (docs/SNAPSHOTS.md)",
        parameters: idParam,
        requestBody: jsonBody({
          name: { type: "string", description: "snapshot name (default VMNAME-TIME)" },
          compress: { type: "boolean", description: "deflate the RAM pages" },
        }),
        responses: { "201": snapshotResponse, ...errs(400, 401, 404, 409) },
      },
    },
    "/v1/vms/{id}/migrate": {
      post: {
        summary:
          "live-migrate a running VM to another daemon: pre-copy of RAM while it runs, then stop-and-copy; on success the VM ends here and runs there, on failure it keeps running here",
        parameters: idParam,
        requestBody: {
          required: true,
          content: {
            "application/json": {
              schema: {
                type: "object",
                required: ["to", "token"],
                properties: {
                  to: { type: "string", description: "http://HOST:PORT of the destination daemon" },
                  token: { type: "string", description: "the destination daemon's bearer token" },
                  maxDowntimeMs: { type: "number", description: "downtime target of the stop-and-copy (default 300)" },
                  name: { type: "string", description: "the VM's name at the destination (default: the same)" },
                  copyDisks: {
                    type: "boolean",
                    description:
                      "copy the disks' copy-on-write overlays to the destination (their base files must be at the same paths there) instead of sharing the disk files: pre-copied in rounds with the RAM, the blocks written since the last round in the stop-and-copy, within maxDowntimeMs (default false)",
                  },
                },
              },
            },
          },
        },
        responses: {
          "200": {
            description: "{destination: VM id there, result: rounds, pages and bytes sent, totalMs, downtimeMs}",
          },
          ...errs(400, 401, 404, 409),
        },
      },
    },
    "/v1/migrations": {
      post: {
        summary:
          "destination of a live migration (called by the source daemon): creates the VM and a VM process that awaits the source; answers the port and a one-time ticket",
        responses: { "201": { description: "{vm, port, ticket}" }, ...errs(400, 401, 403, 409) },
      },
    },
    "/v1/snapshots": {
      get: {
        summary: "list snapshots",
        responses: {
          "200": {
            description: "snapshots",
            content: {
              "application/json": { schema: { type: "array", items: { $ref: "#/components/schemas/Snapshot" } } },
            },
          },
          ...errs(401),
        },
      },
    },
    "/v1/snapshots/{name}": {
      get: { summary: "a snapshot", parameters: snapParam, responses: { "200": snapshotResponse, ...errs(401, 404) } },
      delete: {
        summary: "delete a snapshot (refused while VMs restored from it exist, unless force=true)",
        parameters: [...snapParam, { name: "force", in: "query", schema: { type: "boolean" } }],
        responses: { "204": { description: "deleted" }, ...errs(401, 404, 409) },
      },
    },
    "/v1/snapshots/{name}/restore": {
      post: {
        summary:
          "a new VM resumed from the snapshot (a clone: own id, MAC, disk overlays, and a new VM generation ID so the guest reseeds its RNG)",
        parameters: snapParam,
        requestBody: jsonBody({ name: { type: "string", description: "the new VM's name" } }),
        responses: { "201": vmResponse, ...errs(400, 401, 404, 409, 422) },
      },
    },
    "/v1/vms/{id}/stats": {
      get: {
        summary: "statistics",
        parameters: idParam,
        responses: { "200": { description: "instructions, traps, SBI calls, device I/O, memory" }, ...errs(401, 404) },
      },
    },
    "/v1/vms/{id}/console": {
      get: {
        summary:
          "the console as a WebSocket (binary frames both ways; many readers, one writer: ?mode=write takes the writer role). Without an Upgrade header: the recent output as text",
        parameters: [...idParam, { name: "mode", in: "query", schema: { type: "string", enum: ["read", "write"] } }],
        responses: {
          "101": { description: "WebSocket" },
          "200": { description: "recent console output (text/plain)" },
          ...errs(401, 404, 409),
        },
      },
    },
    "/v1/events": {
      get: {
        summary: "server-sent events: created, state, exit, panic, deleted (?vm=ID filters)",
        parameters: [{ name: "vm", in: "query", schema: { type: "string" } }],
        responses: { "200": { description: "text/event-stream" }, ...errs(401) },
      },
    },
    "/metrics": {
      get: {
        summary: "Prometheus text format, every VM",
        responses: { "200": { description: "text/plain; version=0.0.4" }, ...errs(401) },
      },
    },
  },
} as const;
