// A real MCP client (the official TypeScript SDK) that the Rust end-to-end
// tests drive: it connects over streamable HTTP or stdio, runs the steps it
// is given and prints one JSON report on stdout.
//
//   node client.mjs '<json plan>'
//   plan = {"transport": "http", "url": "http://127.0.0.1:7878/mcp"}
//        | {"transport": "stdio", "command": "cpos", "args": [...], "env": {...}}
//     + "steps": [{"op": "list"}, {"op": "call", "name": "echo", "arguments": {...},
//                  "progress": true}, {"op": "raw", "method": "...", "params": {...}}]
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";

const plan = JSON.parse(process.argv[2]);
const transport =
  plan.transport === "stdio"
    ? new StdioClientTransport({
        command: plan.command,
        args: plan.args ?? [],
        env: { ...process.env, ...(plan.env ?? {}) },
        stderr: "inherit",
      })
    : new StreamableHTTPClientTransport(new URL(plan.url), {
        requestInit: { headers: plan.headers ?? {} },
      });
const client = new Client({ name: "cpos-e2e", version: "1.0.0" });
const report = { steps: [] };
const started = Date.now();

function failure(e) {
  return { code: e.code ?? null, message: String(e.message ?? e), data: e.data ?? null };
}

try {
  await client.connect(transport);
  report.server = client.getServerVersion();
  report.protocolVersion = transport.protocolVersion ?? null;
  for (const step of plan.steps ?? []) {
    const out = { op: step.op, name: step.name ?? null };
    try {
      if (step.op === "list") {
        const listed = await client.listTools(undefined, step.timeout_ms ? { timeout: step.timeout_ms } : undefined);
        out.tools = listed.tools;
      } else if (step.op === "call") {
        const progress = [];
        const options = step.progress
          ? { onprogress: (p) => progress.push({ ...p, at_ms: Date.now() - started }), timeout: 60000 }
          : undefined;
        const t0 = Date.now() - started;
        out.result = await client.callTool({ name: step.name, arguments: step.arguments ?? {} }, undefined, options);
        out.started_ms = t0;
        out.done_ms = Date.now() - started;
        if (step.progress) out.progress = progress;
      } else if (step.op === "ping") {
        out.result = await client.ping();
      } else {
        throw new Error(`unknown op ${step.op}`);
      }
    } catch (e) {
      out.error = failure(e);
    }
    report.steps.push(out);
  }
  await client.close();
} catch (e) {
  report.error = failure(e);
}
process.stdout.write(JSON.stringify(report) + "\n");
process.exit(0);
