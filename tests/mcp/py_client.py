"""A real MCP client (the official Python SDK, `mcp`) that the Rust
end-to-end tests drive, like client.mjs: it connects over streamable HTTP
or stdio, lists the tools and prints one JSON report on stdout.

  python py_client.py '{"transport": "http", "url": "http://127.0.0.1:7878/mcp", "timeout_s": 5}'
  python py_client.py '{"transport": "stdio", "command": "cpos", "args": [...], "env": {...}}'
"""

import asyncio
import json
import sys

from mcp import Client
from mcp.client.stdio import StdioServerParameters


async def main(plan):
    if plan["transport"] == "stdio":
        server = StdioServerParameters(command=plan["command"], args=plan.get("args", []), env=plan.get("env"))
    else:
        server = plan["url"]
    report = {}
    try:
        async with Client(server, read_timeout_seconds=plan.get("timeout_s", 10)) as client:
            listed = await client.list_tools()
            report["tools"] = [tool.model_dump(mode="json", exclude_none=True) for tool in listed.tools]
    except BaseException as e:  # noqa: BLE001 - the report carries any failure
        report["error"] = f"{type(e).__name__}: {e}"
    print(json.dumps(report), flush=True)


if __name__ == "__main__":
    asyncio.run(main(json.loads(sys.argv[1])))
