"""The client's hand-copied enums and field lists agree with web/proto/vigil.ts (normative)."""
import re

from conftest import REPO
from vigil_client import schema

TS = (REPO / "web" / "proto" / "vigil.ts").read_text()


def ts_union(name: str) -> list[str]:
    m = re.search(rf"export type {name} = ([^;]+);", TS)
    assert m, f"{name} not in vigil.ts"
    return re.findall(r'"([^"]+)"', m.group(1))


def ts_fields(name: str) -> dict[str, bool]:
    """field -> required"""
    m = re.search(rf"export type {name} = \{{(.*?)\}};\n", TS, re.S)
    assert m, f"{name} not in vigil.ts"
    body = re.sub(r"/\*\*.*?\*/", "", m.group(1), flags=re.S)
    body = re.sub(r"\{[^{}]*\}", "X", body)  # nested map types
    out = {}
    for f in body.split(","):
        if ":" in f:
            key = f.strip().split(":")[0].strip()
            out[key.rstrip("?").strip('"')] = not key.endswith("?")
    return out


def test_enums_match():
    for name, values in schema.ENUMS.items():
        assert ts_union(name) == values, name


def test_struct_fields_match():
    for name, fields in schema.STRUCTS.items():
        if "." in name:
            continue
        assert ts_fields(name) == {k: req for k, (_, req) in fields.items()}, name
