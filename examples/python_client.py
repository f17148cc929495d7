#!/usr/bin/env python3
"""Call a CPOS sidecar with an HMAC-signed request, standard library only.

    python3 examples/python_client.py http://127.0.0.1:7878/tools/echo \
        --key-id 2026-11-active --secret-file secrets/active \
        --data '{"text": "hi"}' [--agent-id agent-7]

Prints the status line and the body; exits 0 on 2xx.
The signature covers: METHOD, decoded path, raw query, SHA-256 of the body,
timestamp and nonce, joined by newlines (the original CPOS scheme).
"""
import argparse
import hashlib
import hmac
import json
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid


def sign(secret: bytes, method: str, url: str, body: bytes, ts: int, nonce: str) -> str:
    parts = urllib.parse.urlsplit(url)
    canonical = "\n".join([
        method.upper(),
        urllib.parse.unquote(parts.path or "/"),
        parts.query,
        hashlib.sha256(body).hexdigest(),
        str(ts),
        nonce,
    ])
    return hmac.new(secret, canonical.encode("utf-8"), hashlib.sha256).hexdigest()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("url")
    ap.add_argument("--method", default=None, help="default: POST with --data, else GET")
    ap.add_argument("--data", default=None, help="JSON body")
    ap.add_argument("--key-id", required=True)
    ap.add_argument("--secret-file", required=True)
    ap.add_argument("--agent-id", default=None)
    args = ap.parse_args()

    secret = open(args.secret_file, encoding="utf-8").read().strip().encode("utf-8")
    body = b""
    if args.data is not None:
        body = json.dumps(json.loads(args.data), ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    method = (args.method or ("POST" if args.data is not None else "GET")).upper()
    ts, nonce = int(time.time()), uuid.uuid4().hex
    headers = {
        "X-CPOS-Key-Id": args.key_id,
        "X-CPOS-Timestamp": str(ts),
        "X-CPOS-Nonce": nonce,
        "X-CPOS-Signature": sign(secret, method, args.url, body, ts, nonce),
    }
    if body:
        headers["Content-Type"] = "application/json"
    if args.agent_id:
        headers["X-Agent-Id"] = args.agent_id
    req = urllib.request.Request(args.url, data=body or None, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            print(resp.status, resp.reason)
            print(resp.read().decode("utf-8", "replace"))
            return 0
    except urllib.error.HTTPError as err:
        print(err.code, err.reason)
        print(err.read().decode("utf-8", "replace"))
        return 1


if __name__ == "__main__":
    sys.exit(main())
