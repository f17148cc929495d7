"""Converts Nosey Parker's built-in rules (Apache-2.0, Copyright 2022
Praetorian Security, Inc) into the rule-file schema cpos reads
(`noseyparker.toml`), and writes their examples as a labelled corpus.

Only rules that find secrets are kept (category `secret`, not `test`);
identifier rules (bucket names, ARNs, OAuth client ids, hostnames) are not
secrets. Each rule keeps its id, name and pattern; the secret is its last
capture group (`Generic Username and Password` captures the user first).

Usage:
  python3 noseyparker_import.py <noseyparker checkout> [commit] \
      > policies/secrets/noseyparker.toml 2> tests/data/noseyparker.examples.jsonl
"""
import glob, hashlib, json, re, subprocess, sys, yaml

root = sys.argv[1]
commit = (sys.argv[2] if len(sys.argv) > 2 else
          subprocess.run(["git", "-C", root, "rev-parse", "--short=12", "HEAD"],
                         capture_output=True, text=True).stdout.strip() or "unknown")
files = sorted(glob.glob(f"{root}/crates/noseyparker/data/default/builtin/rules/*.yml"))

def toml_str(s):
    # A TOML literal multi-line string keeps a regex byte for byte.
    assert "'''" not in s
    return "'''" + s + "'''" if "\n" not in s else "'''\n" + s + "'''"

print(f"# Nosey Parker built-in rules at commit {commit}, converted by")
print("# noseyparker_import.py. Apache-2.0: see LICENSE.noseyparker and NOTICE.noseyparker.")
print("# Do not edit by hand; re-run the importer.\n")
kept = 0
for f in files:
    for r in yaml.safe_load(open(f)).get("rules", []):
        cats = r.get("categories") or []
        # `(?# … )` comments are Hyperscan syntax, not Rust's: dropped.
        pattern = re.sub(r"\(\?#[^)]*\)", "", r["pattern"]).rstrip("\n")
        split = "held" if int(hashlib.sha256(r["id"].encode()).hexdigest(), 16) % 3 == 0 else "dev"
        for label, key in (("positive", "examples"), ("negative", "negative_examples")):
            for text in r.get(key) or []:
                sys.stderr.write(json.dumps({"rule": r["id"], "label": label, "split": split,
                                             "secret_rule": "secret" in cats, "text": text}) + "\n")
        if "secret" not in cats or "test" in cats:
            continue
        try:
            groups = re.compile(pattern).groups
        except re.error:
            groups = 1
        kept += 1
        print("[[rules]]")
        print(f"id = {json.dumps(r['id'])}")
        print(f"description = {json.dumps(r['name'])}")
        print(f"regex = {toml_str(pattern)}")
        if groups > 1:
            print(f"secretGroup = {groups}")
        print()
sys.stderr.flush()
print(f"# {kept} rules", file=sys.stdout)
