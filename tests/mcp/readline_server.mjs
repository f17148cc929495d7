// A minimal stdio MCP-style server that frames input the way Node's
// readline does: a line ends at \n, \r\n or a bare \r. It logs the name of
// every tools/call it would run to the file named by its first argument and
// answers each request, so tests can prove what reached a tool.
import { appendFileSync } from "node:fs";
import { createInterface } from "node:readline";

const log = process.argv[2];
const rl = createInterface({ input: process.stdin, crlfDelay: Infinity });
rl.on("line", (line) => {
  let msg;
  try {
    msg = JSON.parse(line);
  } catch {
    return;
  }
  if (msg.method === "tools/call") {
    appendFileSync(log, `${msg.params?.name}\n`);
  }
  if (msg.id !== undefined) {
    process.stdout.write(JSON.stringify({ jsonrpc: "2.0", id: msg.id, result: { content: [] } }) + "\n");
  }
});
rl.on("close", () => process.exit(0));
