"""A deliberately lenient tool upstream for the attack suite.

It reads requests the way many real tool servers do: the path percent-decoded
and normalised (like Go's ServeMux or a Flask route), the body parsed with
Python's default `json` module whatever the declared type (it accepts a BOM,
NaN and duplicate keys, UTF-16/32), form and query fields merged in. Every
request it would act on is appended to a log as one JSON line: method, the
path it routed, and every command-like value it found. Tests read the log to
prove a dangerous call never reached a tool.

Usage: python3 lenient_upstream.py LOG_FILE   (prints the port it bound)
"""

import json
import posixpath
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, unquote, urlsplit

LOG = sys.argv[1]
LOCK = threading.Lock()
COMMAND_KEYS = {"command", "commands", "cmd", "script", "run", "exec", "argv"}


def commands(value, out):
    if isinstance(value, dict):
        for k, v in value.items():
            if k.lower() in COMMAND_KEYS:
                out.append(v if isinstance(v, str) else json.dumps(v))
            commands(v, out)
    elif isinstance(value, list):
        for v in value:
            commands(v, out)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def handle_any(self):
        url = urlsplit(self.path)
        path = posixpath.normpath("/" + unquote(url.path).lstrip("/"))
        length = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(length) if length else b""
        found = []
        fields = dict(parse_qsl(url.query))
        if raw:
            try:
                commands(json.loads(raw), found)
            except ValueError:
                ctype = self.headers.get("content-type", "")
                if "form-urlencoded" in ctype:
                    fields.update(parse_qsl(raw.decode("utf-8", "replace")))
        commands(fields, found)
        entry = {"method": self.command, "path": path, "commands": found}
        with LOCK, open(LOG, "a", encoding="utf-8") as log:
            log.write(json.dumps(entry) + "\n")
        body = json.dumps({"ok": True, "path": path}).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_HEAD = handle_any


server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print(server.server_address[1], flush=True)
server.serve_forever()
