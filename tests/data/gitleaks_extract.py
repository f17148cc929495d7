"""Literal true- and false-positive examples of gitleaks' rules
(cmd/generate/config/rules/*.go, MIT, Copyright (c) 2019 Zachary Rice).
Usage: python3 gitleaks_extract.py <gitleaks checkout> > gitleaks.examples.jsonl"""
import json, re, sys, pathlib, hashlib

ROOT = pathlib.Path(sys.argv[1]) / "cmd/generate/config/rules"
BLOCK = re.compile(r"\b(tps|fps|newlineTps|newlineFps)\s*:?=\s*(?:append\(\s*\w+\s*,\s*)?\[\]string\{(.*?)\n\s*\}", re.S)
# A literal element: a Go string literal followed by a comma or the end (not part of a call).
ELEM = re.compile(r'^\s*(?:"((?:[^"\\]|\\.)*)"|`([^`]*)`)\s*,?\s*(?://.*)?$')

def unquote(s):
    return json.loads('"' + s.replace('\\`', '`') + '"') if s is not None else None

rows, seen = [], set()
for path in sorted(ROOT.glob("*.go")):
    src = path.read_text()
    for m in BLOCK.finditer(src):
        kind = "positive" if m.group(1).lower().endswith("tps") else "negative"
        body = m.group(2)
        # Split top-level elements by lines; keep lines that are whole literals.
        for line in body.split("\n"):
            e = ELEM.match(line)
            if not e:
                continue
            try:
                text = unquote(e.group(1)) if e.group(1) is not None else e.group(2)
            except Exception:
                continue
            if not text or len(text) < 6:
                continue
            key = (kind, text)
            if key in seen:
                continue
            seen.add(key)
            split = "held" if int(hashlib.sha256(text.encode()).hexdigest(), 16) % 3 == 0 else "dev"
            rows.append({"rule_file": path.name, "label": kind, "text": text, "split": split})
for r in rows:
    print(json.dumps(r, ensure_ascii=False))
