#!/usr/bin/env python3
"""Checks Vigie's SIEM exports against their own schemas (issue 15).

  export_check.py ecs FIELDS.json FILE...   every line of each ECS JSON-lines file: every leaf
      is an ECS 8.11 field of the right type (from the ecs_flat.yml extract), or under
      `vigie.`; `event.kind/category/type/outcome` take allowed values, each event type is
      expected for its category; no `null`; `event.outcome` absent on `event.type: info`;
      `event.id` unique; `file.path` absolute and `file.name` its last component.
  export_check.py cef FILE...   every line parses with pycef (PyPI, MIT), has the 7 header
      fields, no empty extension value, the keys Vigie wrote, `outcome` success/failure.
"""
import json
import re
import sys


def leaves(obj, prefix=""):
    for k, v in obj.items():
        name = f"{prefix}{k}"
        if isinstance(v, dict) and name != "labels":
            if not v:
                yield name, v
            yield from leaves(v, name + ".")
        else:
            yield name, v


def type_ok(ecs_type, v):
    if ecs_type in ("keyword", "constant_keyword", "wildcard", "text", "match_only_text", "ip", "version"):
        return isinstance(v, str)
    if ecs_type == "date":
        return isinstance(v, str) and re.match(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$", v)
    if ecs_type in ("long", "integer", "short", "byte", "unsigned_long"):
        return isinstance(v, int) and not isinstance(v, bool)
    if ecs_type in ("float", "double", "scaled_float", "half_float"):
        return isinstance(v, (int, float)) and not isinstance(v, bool)
    if ecs_type == "boolean":
        return isinstance(v, bool)
    if ecs_type == "object":
        return isinstance(v, dict)
    return False


def check_ecs(fields_path, files):
    fields = json.load(open(fields_path))["fields"]
    errors, n, ids = [], 0, {}
    for path in files:
        for i, line in enumerate(open(path, encoding="utf-8"), 1):
            if not line.strip():
                continue
            n += 1
            where = f"{path}:{i}"
            ev = json.loads(line)
            for name, v in leaves(ev):
                if name.startswith("vigie."):
                    if v is None:
                        errors.append(f"{where}: {name} is null")
                    continue
                f = fields.get(name)
                if f is None:
                    errors.append(f"{where}: {name} is not an ECS 8.11 field (custom fields go under vigie.)")
                    continue
                values = v if isinstance(v, list) else [v]
                if isinstance(v, list) and "array" not in f.get("normalize", []):
                    pass  # ECS allows arrays for every field; normalize=array says it must be one
                if "array" in f.get("normalize", []) and not isinstance(v, list):
                    errors.append(f"{where}: {name} must be an array")
                if name == "labels":
                    bad = [k for k, x in v.items() if not isinstance(x, str)]
                    if bad:
                        errors.append(f"{where}: labels {bad} are not strings")
                    continue
                for x in values:
                    if x is None or not type_ok(f["type"], x):
                        errors.append(f"{where}: {name}={x!r} is not of ECS type {f['type']}")
                allowed = f.get("allowed_values")
                if allowed:
                    for x in values:
                        if x not in allowed:
                            errors.append(f"{where}: {name}={x!r} not among {sorted(allowed)}")
            event = ev.get("event", {})
            types = event.get("type", [])
            cats = fields["event.category"]["allowed_values"]
            for c in event.get("category", []):
                for t in types:
                    if c in cats and cats[c] and t not in cats[c]:
                        errors.append(f"{where}: event.type {t} not expected for category {c}")
            if "info" in types and "outcome" in event:
                errors.append(f"{where}: event.outcome on an event.type: info event")
            eid = event.get("id")
            if eid is None:
                errors.append(f"{where}: no event.id")
            elif eid in ids:
                errors.append(f"{where}: event.id {eid} already used at {ids[eid]}")
            else:
                ids[eid] = where
            file = ev.get("file", {})
            if "path" in file:
                if not file["path"].startswith("/"):
                    errors.append(f"{where}: file.path {file['path']!r} is not absolute")
                if file.get("name") != file["path"].rsplit("/", 1)[-1]:
                    errors.append(f"{where}: file.name {file.get('name')!r} is not the path's last component")
            if "serial" in ev.get("host", {}) or "model" in ev.get("host", {}):
                errors.append(f"{where}: DMI identity inside host")
    for e in errors[:20]:
        print("ecs:", e)
    print(f"ecs: {n} events checked against ECS 8.11 field definitions, {len(errors)} problems")
    return not errors and n > 0


def check_cef(files):
    import pycef
    errors, n = [], 0
    for path in files:
        for i, line in enumerate(open(path, encoding="utf-8"), 1):
            line = line.rstrip("\n")
            if not line:
                continue
            n += 1
            where = f"{path}:{i}"
            v = pycef.parse(line)
            if not v:
                errors.append(f"{where}: pycef could not parse it")
                continue
            for k in ("DeviceVendor", "DeviceProduct", "DeviceVersion", "DeviceEventClassID", "Name", "Severity"):
                if not v.get(k):
                    errors.append(f"{where}: header {k} missing")
            # The keys Vigie wrote (unescaped `key=` after a space), all found by the parser.
            ext = re.split(r"(?<!\\)\|", line, maxsplit=7)[-1]
            written = re.findall(r"(?:^|\s)([A-Za-z0-9]+)=(?=(\S?))", ext)
            for key, first in written:
                if first == "" or first == " ":
                    errors.append(f"{where}: {key} has an empty value")
            labels = {k[:-5] for k, _ in written if k.endswith("Label")}
            for key, _ in written:
                if key.endswith("Label") or key in labels:
                    continue
                if key not in v or v[key] == "":
                    errors.append(f"{where}: pycef lost {key}")
            if v.get("outcome") not in ("success", "failure", None):
                errors.append(f"{where}: outcome={v.get('outcome')!r} (CEF wants success/failure)")
            if v.get("DeviceEventClassID") == "scan" and "outcome" not in v:
                errors.append(f"{where}: scan event without outcome")
    for e in errors[:20]:
        print("cef:", e)
    print(f"cef: {n} lines parsed by pycef, {len(errors)} problems")
    return not errors and n > 0


if __name__ == "__main__":
    if len(sys.argv) >= 4 and sys.argv[1] == "ecs":
        ok = check_ecs(sys.argv[2], sys.argv[3:])
    elif len(sys.argv) >= 3 and sys.argv[1] == "cef":
        ok = check_cef(sys.argv[2:])
    else:
        sys.exit(__doc__)
    sys.exit(0 if ok else 1)
