"""Reading and checking a bundle before anything is written: JSON, schema, then cross-references.

Every problem is collected, each with the JSON path of the value at fault
(`$.cases[3].acts[0].victim: no person "p9" in this case`), so one run of an import shows
everything that must be fixed. Nothing here writes to the database.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from functools import cache
from pathlib import Path
from typing import Any

from flask import current_app
from flask_babel import gettext as _
from jsonschema import Draft202012Validator
from sqlalchemy import select

from app.bundle.fastcheck import Check, Unsupported, compile_schema
from app.domain import dates
from app.domain.vocab import DISAPPEARANCE_ACTS
from app.extensions import db
from app.models.users import User
from app.models.vocab import District, VocabularyTerm

FORMAT = "amanat-bundle"
VERSION = 1
SCHEMA_PATH = Path(__file__).resolve().parent / "schema.json"
DEFAULT_MAX_BYTES = 20 * 1024 * 1024
MAX_DEPTH = 32  # a well-formed bundle nests about 9 levels deep
# Statuses past review need a supervisor to move a case there (app.services.cases.TRANSITIONS).
STATUS_PATH = {
    "draft": (), "open": ("open",), "under_review": ("open", "submit"),
    "reviewed": ("open", "submit", "mark_reviewed"),
    "closed": ("open", "submit", "mark_reviewed", "close"),
    "archived": ("open", "submit", "mark_reviewed", "close", "archive"),
}
SUPERVISOR_STATUSES = frozenset({"reviewed", "closed", "archived"})
IDENTITY_KEYS = ("full_name", "other_names", "father_name", "tribe", "date_of_birth", "cnic",
                 "phone", "address", "physical_description")
# Vocabularies admins may extend: checked against the database's current terms.
TERM_FIELDS = {"act_type", "location_type", "perpetrator_type", "material", "intake_channel",
               "follow_up_type"}


@dataclass(frozen=True)
class Issue:
    """One problem: where (a JSON path) and what (a translated, user-safe message)."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


class BundleInvalid(Exception):
    """The bundle was refused; `issues` lists every problem found. Nothing was written."""

    def __init__(self, issues: list[Issue]) -> None:
        super().__init__("\n".join(str(i) for i in issues))
        self.issues = issues


def path_of(parts: Any) -> str:
    text = "$"
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else f".{part}"
    return text


@cache
def schema() -> dict[str, Any]:
    return json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))


@cache
def _validator() -> Draft202012Validator:
    return Draft202012Validator(schema())


def max_bytes() -> int:
    return int(current_app.config.get("BUNDLE_MAX_BYTES", DEFAULT_MAX_BYTES))


# Parsing ------------------------------------------------------------------------------------------

class _DuplicateKey(ValueError):
    pass


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise _DuplicateKey(key)
        result[key] = value
    return result


def _refuse_constant(name: str) -> Any:
    raise ValueError(name)


def _depth(value: Any) -> int:
    """Nesting depth, computed without recursion (a hostile file cannot exhaust the stack)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        deepest = max(deepest, level)
        if level > MAX_DEPTH:
            return level
        if isinstance(item, dict):
            stack.extend((v, level + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, level + 1) for v in item)
    return deepest


def _too_deep_at(value: Any) -> list[list[Any]]:
    """Every path where nesting exceeds MAX_DEPTH (no recursion, like _depth)."""
    found: list[list[Any]] = []
    stack: list[tuple[Any, int, list[Any]]] = [(value, 1, [])]
    while stack:
        item, level, parts = stack.pop()
        if level > MAX_DEPTH:
            found.append(parts)
            continue
        if isinstance(item, dict):
            stack.extend((v, level + 1, parts + [k]) for k, v in item.items())
        elif isinstance(item, list):
            stack.extend((v, level + 1, parts + [i]) for i, v in enumerate(item))
    return sorted(found, key=path_of)


def parse(raw: bytes | str, *, limit: int | None = None) -> Any:
    """Bytes to a Python value, refusing oversized, undecodable, malformed or too-deep input."""
    limit = limit or max_bytes()
    size = len(raw.encode("utf-8") if isinstance(raw, str) else raw)
    if size > limit:
        raise BundleInvalid([Issue("$", _(
            "The file is %(size)s bytes; bundles are limited to %(limit)s bytes. Split it into "
            "several bundles.", size=f"{size:,}", limit=f"{limit:,}"))])
    if isinstance(raw, bytes):
        try:
            raw = raw.decode("utf-8-sig")
        except UnicodeDecodeError as error:
            raise BundleInvalid([Issue("$", _(
                "The file is not UTF-8 text (bad byte at position %(pos)d). Save it as UTF-8.",
                pos=error.start))]) from None
    try:
        value = json.loads(raw, object_pairs_hook=_no_duplicate_keys,
                           parse_constant=_refuse_constant)
    except RecursionError:
        raise BundleInvalid([Issue("$", _("The JSON is nested too deeply (more than %(n)d "
                                          "levels); this is not a bundle.", n=MAX_DEPTH))]) from None
    except _DuplicateKey as error:
        raise BundleInvalid([Issue("$", _("The key \"%(key)s\" appears twice in one object.",
                                          key=str(error)))]) from None
    except json.JSONDecodeError as error:
        raise BundleInvalid([Issue("$", _(
            "This is not valid JSON: %(msg)s at line %(line)d, column %(col)d.",
            msg=error.msg, line=error.lineno, col=error.colno))]) from None
    except ValueError as error:
        if "digits" in str(error):  # Python's limit on integer length
            raise BundleInvalid([Issue("$", _("A number has too many digits."))]) from None
        raise BundleInvalid([Issue("$", _("NaN and Infinity are not valid JSON numbers."))]) \
            from None
    if _depth(value) > MAX_DEPTH:
        raise BundleInvalid([Issue("$", _("The JSON is nested too deeply (more than %(n)d "
                                          "levels); this is not a bundle.", n=MAX_DEPTH))])
    return value


# Schema -------------------------------------------------------------------------------------------

def _schema_message(error: Any) -> tuple[list[Any], str]:
    """Turn a jsonschema error into (path parts, plain message)."""
    parts = list(error.absolute_path)
    kind, value = error.validator, error.validator_value
    if kind == "required":
        missing = error.message.split("'")[1] if "'" in error.message else "?"
        return parts + [missing], _("missing (required)")
    if kind == "additionalProperties":
        extra = sorted(set(error.instance) - set(error.schema.get("properties", {})))
        return parts + [extra[0] if extra else "?"], _(
            "unknown field (not part of bundle version %(v)d)", v=VERSION)
    if kind == "const":
        return parts, _("must be %(value)s", value=json.dumps(value))
    if kind == "enum":
        return parts, _("%(got)s is not one of: %(allowed)s", got=json.dumps(error.instance,
                                                                              ensure_ascii=False),
                        allowed=", ".join(str(v) for v in value))
    if kind == "type":
        wanted = value if isinstance(value, str) else " or ".join(value)
        return parts, _("must be of type %(type)s", type=wanted)
    if kind == "pattern":
        if value.startswith(r"^\d{4}"):
            return parts, _("not an ISO 8601 date such as 2025, 2025-03 or 2025-03-11")
        if value == r"\S":
            return parts, _("must not be blank")
        if value == "^[^,]*$":
            return parts, _("a tag cannot contain a comma")
        return parts, _("%(got)s does not have the expected form", got=json.dumps(
            error.instance, ensure_ascii=False)[:80])
    if kind == "maxLength":
        return parts, _("too long (%(n)d characters at most)", n=value)
    if kind == "minLength":
        return parts, _("must not be empty")
    if kind in ("minimum", "maximum"):
        return parts, _("%(got)s is out of range", got=error.instance)
    if kind in ("anyOf", "oneOf"):
        names = [next(iter(s.get("required", ["?"]))) for s in value]
        if kind == "oneOf":
            return parts, _("give exactly one of: %(names)s", names=", ".join(names))
        return parts, _("give at least one of: %(names)s", names=", ".join(names))
    return parts, error.message


@cache
def _quick_check() -> Check | None:
    try:
        return compile_schema(schema())
    except Unsupported:
        return None


def schema_issues(bundle: Any) -> list[Issue]:
    quick = _quick_check()
    try:
        if quick is not None and quick(bundle):
            return []  # valid: what jsonschema would say, in a fraction of its time
    except Exception:  # noqa: BLE001, S110 - unsure: jsonschema below decides, with messages
        pass
    issues = []
    errors = sorted(_validator().iter_errors(bundle),
                    key=lambda e: [str(p) for p in e.absolute_path])
    for error in errors:
        parts, message = _schema_message(error)
        issues.append(Issue(path_of(parts), message))
    return issues


# Cross-references and rules -----------------------------------------------------------------------

def _current_terms() -> dict[str, set[str]]:
    rows = db.session.execute(select(VocabularyTerm.vocabulary, VocabularyTerm.code)
                              .where(VocabularyTerm.retired_at.is_(None))).all()
    result: dict[str, set[str]] = {}
    for vocabulary, code in rows:
        result.setdefault(vocabulary, set()).add(code)
    return result


def _current_districts() -> set[str]:
    return set(db.session.execute(select(District.code)
                                  .where(District.retired_at.is_(None))).scalars())


def partial_date_of(value: Any) -> dates.PartialDate:
    """A bundle partial date ({date, precision, as_given}) as a PartialDate; raises DateError."""
    value = value or {}
    return dates.from_parts(value.get("date"), value.get("precision", "unknown"),
                            value.get("as_given"))


def infer_precision(value: str | None) -> str:
    if not value:
        return "unknown"
    return {1: "year", 2: "month", 3: "day"}.get(len(value.split("-")), "unknown")


def testimony_date_of(testimony: dict[str, Any]) -> dates.PartialDate:
    value = testimony.get("date")
    return dates.from_parts(value, testimony.get("precision") or infer_precision(value))


def iso_date(value: str) -> date:
    return date.fromisoformat(value)


class _Checker:
    """Walks a schema-valid-enough bundle and collects rule violations, skipping paths whose
    shape the schema already refused (one clear message per problem, not two)."""

    def __init__(self, actor: User | None, schema_paths: set[str]) -> None:
        self.actor = actor
        self.bad = schema_paths
        self.issues: list[Issue] = []
        self.terms = _current_terms()
        self.districts = _current_districts()
        self.today = date.today()

    def add(self, parts: list[Any], message: str) -> None:
        path = path_of(parts)
        if any(path == b or path.startswith(b + ".") or path.startswith(b + "[")
               for b in self.bad):
            return
        self.issues.append(Issue(path, message))

    def objects(self, container: Any, key: str, base: list[Any]) -> Iterator[tuple[list, dict]]:
        items = container.get(key) if isinstance(container, dict) else None
        if not isinstance(items, list):
            return
        for index, item in enumerate(items):
            if isinstance(item, dict):
                yield base + [key, index], item

    def term(self, parts: list[Any], vocabulary: str, code: Any) -> None:
        if isinstance(code, str) and code not in self.terms.get(vocabulary, set()):
            self.add(parts, _("%(code)s is not a current term of %(vocab)s", code=code,
                              vocab=vocabulary.replace("_", " ")))

    def full_date(self, parts: list[Any], value: Any, *, past: bool = True) -> date | None:
        if not isinstance(value, str):
            return None
        try:
            day = iso_date(value)
        except ValueError:
            self.add(parts, _("%(value)s is not a real calendar date", value=value))
            return None
        if past and day > self.today:
            self.add(parts, _("the date cannot be in the future"))
        return day

    def partial(self, parts: list[Any], value: Any) -> dates.PartialDate | None:
        if not isinstance(value, dict):
            return None
        try:
            partial = partial_date_of(value)
        except dates.DateError as error:
            self.add(parts, _("the date does not fit its precision: %(detail)s",
                              detail=str(error)))
            return None
        if partial.earliest and partial.earliest > self.today:
            self.add(parts, _("the date cannot be in the future"))
        return partial

    def run(self, bundle: Any) -> list[Issue]:
        if not isinstance(bundle, dict):
            return self.issues
        if self.actor is not None and self.actor.role not in ("caseworker", "supervisor"):
            self.add([], _("Only caseworkers and supervisors can import cases."))
        seen_cases: dict[str, int] = {}
        for parts, case in self.objects(bundle, "cases", []):
            case_id = case.get("id")
            if isinstance(case_id, str):
                if case_id in seen_cases:
                    self.add(parts + ["id"], _("duplicate case id \"%(id)s\" (also "
                                               "$.cases[%(n)d])", id=case_id,
                                               n=seen_cases[case_id]))
                seen_cases.setdefault(case_id, parts[1])
            self.case(parts, case)
        return self.issues

    def case(self, base: list[Any], case: dict[str, Any]) -> None:
        supervisor = self.actor is None or self.actor.role == "supervisor"
        status = case.get("status", "draft")
        if status in SUPERVISOR_STATUSES and not supervisor:
            self.add(base + ["status"], _("only a supervisor can import a case that is %(s)s",
                                          s=status))
        if case.get("intake_channel") is not None:
            self.term(base + ["intake_channel"], "intake_channel", case["intake_channel"])
        self.full_date(base + ["date_received"], case.get("date_received"))
        tags = case.get("tags")
        if isinstance(tags, list) and len(", ".join(str(t) for t in tags)) > 500:
            self.add(base + ["tags"], _("too many tags (500 characters in all)"))

        ids: dict[str, str] = {}
        kinds: dict[str, dict[str, dict]] = {"person": {}, "act": {}, "source": {},
                                             "testimony": {}, "follow_up": {}}
        for key, kind in (("people", "person"), ("acts", "act"), ("sources", "source"),
                          ("testimonies", "testimony"), ("follow_ups", "follow_up")):
            for parts, item in self.objects(case, key, base):
                local = item.get("id")
                if not isinstance(local, str):
                    continue
                if local in ids:
                    self.add(parts + ["id"], _("duplicate id \"%(id)s\" in this case (also %(where)s)",
                                               id=local, where=ids[local]))
                    continue
                ids[local] = path_of(parts)
                kinds[kind][local] = item

        def refer(parts: list[Any], kind: str, value: Any, label: str) -> bool:
            if isinstance(value, str) and value not in kinds[kind]:
                self.add(parts, _("no %(kind)s \"%(id)s\" in this case", kind=label, id=value))
                return False
            return isinstance(value, str)

        person_label, act_label = _("person"), _("act")
        for parts, person in self.objects(case, "people", base):
            cnic = person.get("cnic")
            if isinstance(cnic, str) and cnic and sum(ch.isdigit() for ch in cnic) != 13:
                self.add(parts + ["cnic"], _("a CNIC has 13 digits, e.g. 52203-1234567-1"))
            if person.get("identity_erased"):
                present = [k for k in IDENTITY_KEYS if person.get(k)]
                if present:
                    self.add(parts, _("an erased identity cannot carry %(fields)s",
                                      fields=", ".join(present)))
                if not supervisor:
                    self.add(parts + ["identity_erased"], _(
                        "only a supervisor can import an erased identity"))

        for parts, act in self.objects(case, "acts", base):
            self.act(parts, act, refer, person_label, supervisor)

        source_label = _("source")
        for parts, source in self.objects(case, "sources", base):
            refer(parts + ["person"], "person", source.get("person"), person_label)
        testimony_sources: dict[str, Any] = {}
        for parts, testimony in self.objects(case, "testimonies", base):
            refer(parts + ["source"], "source", testimony.get("source"), source_label)
            testimony_sources[testimony.get("id")] = testimony.get("source")
            self.term(parts + ["material"], "material", testimony.get("material"))
            value, precision = testimony.get("date"), testimony.get("precision")
            if isinstance(value, str | type(None)) and isinstance(precision, str | type(None)):
                try:
                    given = testimony_date_of(testimony)
                    if given.earliest and given.earliest > self.today:
                        self.add(parts + ["date"], _("the date cannot be in the future"))
                except dates.DateError as error:
                    self.add(parts + ["date"], _("the date does not fit its precision: "
                                                 "%(detail)s", detail=str(error)))

        support: dict[str, dict[str, Any]] = {a: {"links": 0, "sources": set(), "checked": 0}
                                              for a in kinds["act"]}
        linked: dict[tuple[Any, Any], str] = {}
        for parts, link in self.objects(case, "links", base):
            act_ok = refer(parts + ["act"], "act", link.get("act"), act_label)
            if "evidence" in link:
                self.add(parts + ["evidence"], _(
                    "evidence files do not travel in bundle version 1; import the case, then "
                    "upload the file on the case page and link it there"))
            testimony_ok = refer(parts + ["testimony"], "testimony", link.get("testimony"),
                                 _("testimony"))
            checked = self.full_date(parts + ["checked_on"], link.get("checked_on"))
            key = (link.get("act"), link.get("testimony"))
            if act_ok and testimony_ok:
                if key in linked:
                    self.add(parts, _("this testimony is already linked to this act (%(where)s)",
                                      where=linked[key]))
                    continue
                linked[key] = path_of(parts)
                if link.get("relation") == "supports":
                    entry = support[link["act"]]
                    entry["links"] += 1
                    entry["sources"].add(testimony_sources.get(link["testimony"]))
                    entry["checked"] += 1 if checked else 0

        for parts, act in self.objects(case, "acts", base):
            self.allegation(parts, act, support.get(act.get("id")), supervisor)

        for parts, follow_up in self.objects(case, "follow_ups", base):
            self.term(parts + ["type"], "follow_up_type", follow_up.get("type"))
            planned = follow_up.get("status", "planned") == "planned"
            taken = self.full_date(parts + ["taken_on"], follow_up.get("taken_on"),
                                   past=not planned)
            due = self.full_date(parts + ["next_step_on"], follow_up.get("next_step_on"),
                                 past=False)
            if taken and due and due < taken:
                self.add(parts + ["next_step_on"], _("the next step cannot be due before the "
                                                     "action itself"))
            if due and not (follow_up.get("next_step") or "").strip():
                self.add(parts + ["next_step"], _("say what the next step is"))
        for parts, consent in self.objects(case, "consents", base):
            refer(parts + ["person"], "person", consent.get("person"), person_label)
            given = self.full_date(parts + ["given_on"], consent.get("given_on"))
            withdrawn = self.full_date(parts + ["withdrawn_on"], consent.get("withdrawn_on"),
                                       past=False)
            if given and withdrawn and withdrawn < given:
                self.add(parts + ["withdrawn_on"], _("withdrawn before it was given"))

    def act(self, base: list[Any], act: dict[str, Any], refer: Any, person_label: str,
            supervisor: bool) -> None:
        self.term(base + ["type"], "act_type", act.get("type"))
        if act.get("location_type") is not None:
            self.term(base + ["location_type"], "location_type", act["location_type"])
        refer(base + ["victim"], "person", act.get("victim"), person_label)
        district = act.get("district")
        if isinstance(district, str) and district not in self.districts:
            self.add(base + ["district"], _("unknown district code %(code)s", code=district))
        start = self.partial(base + ["start"], act.get("start"))
        end = self.partial(base + ["end"], act.get("end"))
        if start and end and start.earliest and end.latest and end.latest < start.earliest:
            self.add(base + ["end"], _("the end date is before the start date"))
        details = act.get("disappearance")
        if isinstance(details, dict):
            act_type = act.get("type")
            if act_type in self.terms.get("act_type", set()) and act_type not in DISAPPEARANCE_ACTS:
                self.add(base + ["disappearance"], _(
                    "disappearance details belong only to enforced_disappearance and abduction "
                    "acts"))
            self.partial(base + ["disappearance", "last_seen"], details.get("last_seen"))
            self.full_date(base + ["disappearance", "current_status_on"],
                           details.get("current_status_on"))
            for parts, step in self.objects(details, "family_steps", base + ["disappearance"]):
                self.full_date(parts + ["taken_on"], step.get("taken_on"))
        for parts, perpetrator in self.objects(act, "perpetrators", base):
            refer(parts + ["person"], "person", perpetrator.get("person"), person_label)
            self.term(parts + ["type"], "perpetrator_type", perpetrator.get("type", "unknown"))

    def allegation(self, base: list[Any], act: dict[str, Any], support: dict[str, Any] | None,
                   supervisor: bool) -> None:
        status = act.get("allegation_status", "alleged")
        if status in ("alleged", "disputed") or support is None:
            return
        sources = len(support["sources"] - {None})
        parts = base + ["allegation_status"]
        if status in ("finding", "unsubstantiated") and not supervisor:
            self.add(parts, _("only a supervisor can record the status %(s)s", s=status))
        elif status != "unsubstantiated" and support["links"] == 0:
            self.add(parts, _("%(s)s needs at least one supporting link; this act has none",
                              s=status))
        elif status in ("corroborated", "verified") and sources < 2:
            self.add(parts, _("%(s)s needs supporting testimony from two independent sources; "
                              "this act has %(n)d", s=status, n=sources))
        elif status == "verified" and support["checked"] == 0:
            self.add(parts, _("verified needs a supporting link with checked_on"))


def validate_bundle(bundle: Any, actor: User | None = None) -> list[Issue]:
    """Every problem with this bundle (empty when it can be imported by `actor`)."""
    # Also for values that did not come through parse(); the paths only when there are some.
    deep = _too_deep_at(bundle) if _depth(bundle) > MAX_DEPTH else []
    if deep:
        return [Issue(path_of(parts), _("nested too deeply (more than %(n)d levels); this is "
                                        "not a bundle", n=MAX_DEPTH)) for parts in deep]
    issues = schema_issues(bundle)
    if isinstance(bundle, dict) and (bundle.get("format") != FORMAT
                                     or bundle.get("version") != VERSION):
        # Another format or version: the field-by-field messages would only confuse.
        return [i for i in issues if i.path in ("$", "$.format", "$.version")] or issues
    try:
        issues += _Checker(actor, {i.path for i in issues}).run(bundle)
    except (TypeError, AttributeError, ValueError, KeyError):
        # The cross-reference rules assume the schema's types; where the schema already refused
        # something, its messages are the ones to read. A crash on a schema-valid bundle is a bug.
        if not issues:
            raise
    return issues


def load_and_validate(raw: bytes | str, actor: User | None = None) -> dict[str, Any]:
    """Parse and validate; raise BundleInvalid with every issue, or return the bundle."""
    bundle = parse(raw)
    issues = validate_bundle(bundle, actor)
    if issues:
        raise BundleInvalid(issues)
    return bundle
