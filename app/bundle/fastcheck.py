"""A quick yes/no check of a bundle against schema.json, compiled once into plain closures.

jsonschema walks a bundle of 10,000 cases in about 15 s (one validator object per keyword and
value); this answers "valid?" for the same schema in a fraction of that. It only ever says yes
when jsonschema would: it implements exactly the keywords schema.json uses, with jsonschema's
Draft 2020-12 semantics (types, `re.search` patterns, lengths in code points, JSON equality for
`enum`/`const`), and refuses to compile a schema with any other keyword. When it says no (or
cannot tell), `schema_issues` asks jsonschema, whose errors carry the messages and paths.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from jsonschema._utils import equal

Check = Callable[[Any], bool]
ANNOTATIONS = frozenset({"description", "title", "$schema", "$id", "$defs", "format"})
OBJECT_KEYWORDS = frozenset({"type", "required", "properties", "additionalProperties"})


class Unsupported(ValueError):
    """The schema uses a keyword this checker does not implement."""


def _is_type(value: Any, name: str) -> bool:
    if name == "string":
        return isinstance(value, str)
    if name == "object":
        return isinstance(value, dict)
    if name == "array":
        return isinstance(value, list)
    if name == "null":
        return value is None
    if name == "boolean":
        return isinstance(value, bool)
    if isinstance(value, bool):
        return False
    if name == "integer":
        return isinstance(value, int) or (isinstance(value, float) and value.is_integer())
    if name == "number":
        return isinstance(value, int | float)
    raise Unsupported(f"type {name}")


class _Compiler:
    def __init__(self, root: dict[str, Any]) -> None:
        self.defs = root.get("$defs", {})
        self.compiled: dict[str, Check] = {}

    def ref(self, target: str) -> Check:
        if not target.startswith("#/$defs/"):
            raise Unsupported(target)
        name = target.removeprefix("#/$defs/")
        if name not in self.compiled:
            holder: list[Check] = []  # filled below; a definition may refer to itself
            self.compiled[name] = lambda value: holder[0](value)
            holder.append(self.schema(self.defs[name]))
        return self.compiled[name]

    def obj(self, node: dict[str, Any]) -> Check:
        """The common shape {type: object, required, properties, additionalProperties} as one
        loop over the object's items (the same answer as checking each keyword in turn)."""
        required = tuple(node.get("required", ()))
        props = {name: self.schema(sub) for name, sub in node.get("properties", {}).items()}
        extra = self.schema(node.get("additionalProperties", True))

        def check(value: Any) -> bool:
            if not isinstance(value, dict):
                return False
            for name in required:
                if name not in value:
                    return False
            for name, item in value.items():
                if not props.get(name, extra)(item):
                    return False
            return True
        return check

    def schema(self, node: Any) -> Check:  # noqa: C901 - one branch per keyword, flat on purpose
        if node is True:
            return lambda value: True
        if node is False:
            return lambda value: False
        if node.get("type") == "object" and set(node) - ANNOTATIONS <= OBJECT_KEYWORDS:
            return self.obj(node)
        checks: list[Check] = []
        for key, arg in node.items():
            if key in ANNOTATIONS:
                continue
            if key == "$ref":
                checks.append(self.ref(arg))
            elif key == "type":
                names = [arg] if isinstance(arg, str) else list(arg)
                for name in names:
                    _is_type(None, name)  # refuse unknown type names now
                checks.append(lambda v, n=names: any(_is_type(v, t) for t in n))
            elif key == "enum":
                checks.append(lambda v, options=arg: any(equal(v, o) for o in options))
            elif key == "const":
                checks.append(lambda v, c=arg: equal(v, c))
            elif key == "pattern":
                checks.append(lambda v, p=re.compile(arg): not isinstance(v, str) or bool(
                    p.search(v)))
            elif key == "maxLength":
                checks.append(lambda v, n=arg: not isinstance(v, str) or len(v) <= n)
            elif key == "minLength":
                checks.append(lambda v, n=arg: not isinstance(v, str) or len(v) >= n)
            elif key == "minimum":
                checks.append(lambda v, n=arg: not _is_type(v, "number") or v >= n)
            elif key == "maximum":
                checks.append(lambda v, n=arg: not _is_type(v, "number") or v <= n)
            elif key == "minItems":
                checks.append(lambda v, n=arg: not isinstance(v, list) or len(v) >= n)
            elif key == "required":
                checks.append(lambda v, r=tuple(arg): not isinstance(v, dict) or all(
                    k in v for k in r))
            elif key == "properties":
                props = {name: self.schema(sub) for name, sub in arg.items()}
                checks.append(lambda v, p=props: not isinstance(v, dict) or all(
                    p[k](item) for k, item in v.items() if k in p))
            elif key == "additionalProperties":
                known = frozenset(node.get("properties", {}))
                if "patternProperties" in node:
                    raise Unsupported("patternProperties")
                extra = self.schema(arg)
                checks.append(lambda v, k=known, e=extra: not isinstance(v, dict) or all(
                    e(item) for name, item in v.items() if name not in k))
            elif key == "items":
                each = self.schema(arg)
                checks.append(lambda v, e=each: not isinstance(v, list) or all(e(i) for i in v))
            elif key == "anyOf":
                subs = [self.schema(s) for s in arg]
                checks.append(lambda v, s=subs: any(c(v) for c in s))
            elif key == "oneOf":
                subs = [self.schema(s) for s in arg]
                checks.append(lambda v, s=subs: sum(1 for c in s if c(v)) == 1)
            else:
                raise Unsupported(key)
        return lambda value: all(check(value) for check in checks)


def compile_schema(schema: dict[str, Any]) -> Check:
    """A function telling whether a value is valid against `schema`; raises Unsupported when the
    schema uses a keyword not implemented here."""
    return _Compiler(schema).schema(schema)
