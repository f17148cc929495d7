"""Extract ground-truth tool calls from AgentDojo task files (MIT licence,
Copyright (c) 2024 Edoardo Debenedetti et al.) into tests/data/agentdojo.toolcalls.jsonl.
Usage: python3 agentdojo_extract.py <agentdojo checkout> > agentdojo.toolcalls.jsonl
Attacker: calls of InjectionTask*.ground_truth; benign: UserTask*.ground_truth."""
import ast, json, sys, hashlib, pathlib

ROOT = pathlib.Path(sys.argv[1]) / "src/agentdojo/default_suites/v1"
UNKNOWN = "$value"

def ev(node, attrs):
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.JoinedStr):
        out = ""
        for v in node.values:
            if isinstance(v, ast.Constant):
                out += str(v.value)
            else:
                x = ev(v.value, attrs)
                out += str(x) if x is not UNKNOWN else "{value}"
        return out
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "self":
        return attrs.get(node.attr, UNKNOWN)
    if isinstance(node, ast.Name):
        return attrs.get(node.id, UNKNOWN)
    if isinstance(node, (ast.List, ast.Tuple)):
        return [ev(e, attrs) for e in node.elts]
    if isinstance(node, ast.Dict):
        return {ev(k, attrs): ev(v, attrs) for k, v in zip(node.keys, node.values)}
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        l, r = ev(node.left, attrs), ev(node.right, attrs)
        if isinstance(l, str) and isinstance(r, str):
            return l + r
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        v = ev(node.operand, attrs)
        if isinstance(v, (int, float)):
            return -v
    return UNKNOWN

rows = []
for suite in ["banking", "slack", "travel", "workspace"]:
    for kind, label in [("injection_tasks", "attacker"), ("user_tasks", "benign")]:
        path = ROOT / suite / f"{kind}.py"
        tree = ast.parse(path.read_text())
        module_attrs = {}
        for st in tree.body:
            if isinstance(st, ast.Assign) and len(st.targets) == 1 and isinstance(st.targets[0], ast.Name):
                module_attrs[st.targets[0].id] = ev(st.value, module_attrs)
        for cls in [n for n in tree.body if isinstance(n, ast.ClassDef)]:
            attrs = dict(module_attrs)
            for st in cls.body:
                tgt = None
                if isinstance(st, ast.Assign) and len(st.targets) == 1 and isinstance(st.targets[0], ast.Name):
                    tgt, val = st.targets[0].id, st.value
                elif isinstance(st, ast.AnnAssign) and isinstance(st.target, ast.Name) and st.value is not None:
                    tgt, val = st.target.id, st.value
                if tgt:
                    attrs[tgt] = ev(val, attrs)
            for fn in cls.body:
                if not (isinstance(fn, ast.FunctionDef) and fn.name == "ground_truth"):
                    continue
                for call in ast.walk(fn):
                    if not (isinstance(call, ast.Call) and getattr(call.func, "id", None) == "FunctionCall"):
                        continue
                    kw = {k.arg: k.value for k in call.keywords}
                    tool = ev(kw["function"], attrs)
                    args_node = kw.get("placeholder_args") or kw.get("args")
                    args = ev(args_node, attrs) if args_node is not None else {}
                    if not isinstance(args, dict):
                        args = {}
                    rows.append({"suite": suite, "task": cls.name, "label": label, "tool": tool, "arguments": args})
seen = set()
for r in rows:
    key = json.dumps([r["label"], r["tool"], r["arguments"]], sort_keys=True)
    if key in seen:
        continue
    seen.add(key)
    r["split"] = "held" if int(hashlib.sha256(key.encode()).hexdigest(), 16) % 3 == 0 else "dev"
    print(json.dumps(r, ensure_ascii=False))
