"""Loading and validating the catalogue (``gait/data/faults.toml``): a broken entry raises
`GaitInputError` naming the entry and the field, with the closest known names."""

from __future__ import annotations

import itertools
import math
import re
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from importlib import resources
from pathlib import Path
from typing import Any

from ..errors import GaitInputError, Where
from ..registry import MINUTE_TABLE, STEP_TABLE
from ._kinds import (
    _DERIVED,
    _DETECTIONS,
    _DIRECTIONS,
    _ROLES,
    DISPLAYS,
    DOCUMENTS,
    NEEDS,
    RULE_KINDS,
    SEVERITIES,
    _close,
    implied_requirements,
    known_metrics,
)
from ._types import Catalogue, Document, FaultSpec, Rule, Text, UnseenCause


class _Checker:
    """Validation helpers that name the catalogue entry and field in every message."""

    def __init__(self, path: str) -> None:
        self.path = path

    def fail(self, where: str, problem: str, expected: str, found: Any) -> GaitInputError:
        return GaitInputError(
            f"invalid fault catalogue entry: {problem}",
            expected=expected,
            found=repr(found),
            where=Where(file=self.path, parameter=where),
        )

    def keys(self, d: Mapping[str, Any], where: str, required: Iterable[str], optional: Iterable[str]) -> None:
        if not isinstance(d, Mapping):
            raise self.fail(where, "not a table", "a TOML table", type(d).__name__)
        req = list(required)
        allowed = set(req) | set(optional)
        for k in req:
            if k not in d:
                raise self.fail(f"{where}.{k}", "missing field", f"a value for '{k}'", None)
        unknown = sorted(set(d) - allowed)
        if unknown:
            raise self.fail(
                f"{where}.{unknown[0]}", "unknown field", "one of " + ", ".join(sorted(allowed)), unknown[0]
            )

    def text(self, d: Mapping[str, Any], key: str, where: str) -> str:
        v = d.get(key)
        if not isinstance(v, str) or not v.strip():
            raise self.fail(f"{where}.{key}", "empty or not text", "a non-empty string", v)
        return v.strip()

    def docs(self, v: Any, where: str) -> tuple[str, ...]:
        if not isinstance(v, list) or not v or any(x not in DOCUMENTS for x in v):
            raise self.fail(where, "bad document list", "a non-empty list of ids among " + ", ".join(DOCUMENTS), v)
        return tuple(v)

    def number(self, v: Any, where: str) -> float:
        if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(float(v)):
            raise self.fail(where, "not a number", "a finite number", v)
        return float(v)

    def choice(self, v: Any, where: str, allowed: Sequence[str]) -> str:
        if v not in allowed:
            raise self.fail(where, "invalid value", "one of " + ", ".join(allowed), v)
        return str(v)

    def texts(self, items: Any, where: str) -> tuple[Text, ...]:
        if not isinstance(items, list) or not items:
            raise self.fail(where, "missing texts", "a non-empty list of tables with text and documents", items)
        out = []
        for k, t in enumerate(items):
            w = f"{where}[{k}]"
            self.keys(t, w, ("text", "documents"), ())
            out.append(Text(self.text(t, "text", w), self.docs(t["documents"], f"{w}.documents")))
        return tuple(out)


_RULE_FIELDS = (
    "role",
    "step_column",
    "step_threshold",
    "minute_column",
    "requires",
    "applies_above",
    "change",
    "grade_pct",
    "reliability",
    "only_without",
)


def _rule(c: _Checker, d: Mapping[str, Any], where: str) -> Rule:
    c.keys(d, where, ("kind", "metric", "label", "display", "direction", "levels", "source"), _RULE_FIELDS)
    kind = c.choice(d["kind"], f"{where}.kind", RULE_KINDS)
    role = c.choice(d.get("role", "baseline" if kind == "baseline" else "primary"), f"{where}.role", _ROLES)
    if (kind == "baseline") != (role == "baseline"):
        raise c.fail(f"{where}.role", "role and kind disagree", "role 'baseline' exactly for kind 'baseline'", role)
    direction = c.choice(d["direction"], f"{where}.direction", _DIRECTIONS)
    levels = d["levels"]
    if not isinstance(levels, list) or not 1 <= len(levels) <= 3:
        raise c.fail(f"{where}.levels", "bad levels", "a list of 1 to 3 numbers (low, moderate, high)", levels)
    lv = tuple(c.number(x, f"{where}.levels[{k}]") for k, x in enumerate(levels))
    increasing = all(b > a for a, b in itertools.pairwise(lv))
    decreasing = all(b < a for a, b in itertools.pairwise(lv))
    change = d.get("change")
    if kind in ("drift", "baseline"):
        change = c.choice(change, f"{where}.change", ("pct", "abs"))
        ok = increasing and lv[0] > 0  # drifts and baselines are sized in the worse direction
    elif direction == "below":
        ok = decreasing
    else:
        ok = increasing and (direction != "abs_above" or lv[0] > 0)
    if not ok:
        raise c.fail(
            f"{where}.levels",
            "levels out of order",
            "levels getting worse from low to high in the rule's direction",
            list(lv),
        )
    display = c.choice(d["display"], f"{where}.display", tuple(DISPLAYS))
    metric = c.text(d, "metric", where)
    if metric not in known_metrics(kind):
        raise c.fail(
            f"{where}.metric",
            f"unknown metric {metric!r} ({_close(metric, known_metrics(kind))})",
            f"a metric a {kind} rule can use (docs/faults.md, docs/tables.md)",
            metric,
        )
    for key, names in (("step_column", (*STEP_TABLE, *_DERIVED)), ("minute_column", MINUTE_TABLE)):
        if isinstance(d.get(key), str) and d[key] not in names:
            raise c.fail(
                f"{where}.{key}",
                f"unknown column {d[key]!r} ({_close(d[key], names)})",
                "a column of the " + ("step" if key == "step_column" else "minute") + " table or a derived metric",
                d[key],
            )
    rel = c.number(d.get("reliability", 0.8), f"{where}.reliability")
    if not 0 < rel <= 1:
        raise c.fail(f"{where}.reliability", "out of range", "a number in (0, 1]", rel)
    requires = d.get("requires", [])
    if not isinstance(requires, list) or any(r not in NEEDS for r in requires):
        raise c.fail(f"{where}.requires", "unknown requirement", "a list among " + ", ".join(NEEDS), requires)
    missing = [r for r in implied_requirements(kind, str(d["metric"])) if r not in requires]
    if missing:
        raise c.fail(
            f"{where}.requires",
            f"the rule's metric {d['metric']} needs {', '.join(missing)}",
            "every measurement the metric is computed from listed in 'requires'",
            requires,
        )
    only_without = d.get("only_without", [])
    if not isinstance(only_without, list) or any(r not in NEEDS for r in only_without):
        raise c.fail(f"{where}.only_without", "unknown requirement", "a list among " + ", ".join(NEEDS), only_without)
    grade = d.get("grade_pct")
    if kind == "downhill":
        grade = c.number(grade, f"{where}.grade_pct")
        if grade >= 0:
            raise c.fail(f"{where}.grade_pct", "not a downhill grade", "a negative grade in %", grade)
    for key in ("step_column", "minute_column"):
        if key in d and (not isinstance(d[key], str) or not d[key]):
            raise c.fail(f"{where}.{key}", "not a column name", "a column name", d[key])
    return Rule(
        kind=kind,
        role=role,
        metric=metric,
        label=c.text(d, "label", where),
        display=display,
        direction=direction,
        levels=lv,
        source=c.text(d, "source", where),
        reliability=rel,
        step_column=d.get("step_column"),
        step_threshold=c.number(d["step_threshold"], f"{where}.step_threshold") if "step_threshold" in d else None,
        minute_column=d.get("minute_column"),
        requires=tuple(requires),
        applies_above=c.number(d["applies_above"], f"{where}.applies_above") if "applies_above" in d else None,
        change=change,
        grade_pct=grade,
        only_without=tuple(only_without),
    )


_FAULT_REQUIRED = (
    "id",
    "name",
    "design_row",
    "documents",
    "cue",
    "detection",
    "summary",
    "limitations",
    "rules",
    "causes",
    "advice",
)
_FAULT_OPTIONAL = ("max_severity", "min_running_s", "combine", "min_agree", "suppressed_by", "cues")
_LANGUAGE_RE = re.compile(r"[a-z]{2,3}(-[A-Za-z]{2,4})?")


def _cues(c: _Checker, raw: Any, where: str) -> dict[str, str]:
    if not isinstance(raw, Mapping):
        raise c.fail(where, "bad cues", 'a table of language codes and texts, e.g. { de = "..." }', raw)
    out = {}
    for lang, text in raw.items():
        if not isinstance(lang, str) or not _LANGUAGE_RE.fullmatch(lang):
            raise c.fail(f"{where}.{lang}", "bad language code", "a code such as de, fr or pt-BR", lang)
        if not isinstance(text, str) or not text.strip() or len(text) > 60:
            raise c.fail(f"{where}.{lang}", "bad cue", "a text of 1 to 60 characters", text)
        out[lang] = text
    return out


def _fault(c: _Checker, d: Mapping[str, Any], k: int) -> FaultSpec:
    where = f"fault[{k}]"
    fid = d.get("id") if isinstance(d, Mapping) else None
    if isinstance(fid, str):
        where = f"fault '{fid}'"
    c.keys(d, where, _FAULT_REQUIRED, _FAULT_OPTIONAL)
    if not isinstance(fid, str) or not re.fullmatch(r"[a-z][a-z0-9_]*", fid):
        raise c.fail(f"{where}.id", "bad id", "a lower-case identifier (letters, digits, _)", fid)
    cue = c.text(d, "cue", where)
    if len(cue) > 60:
        raise c.fail(f"{where}.cue", "cue too long for the live display", "at most 60 characters", cue)
    rules_raw = d["rules"]
    if not isinstance(rules_raw, list) or not rules_raw:
        raise c.fail(f"{where}.rules", "no rules", "at least one rule", rules_raw)
    rules = tuple(_rule(c, r, f"{where}.rules[{j}]") for j, r in enumerate(rules_raw))
    combine = c.choice(d.get("combine", "max"), f"{where}.combine", ("max", "agreement"))
    detecting = [r for r in rules if r.role != "baseline"]
    if combine == "max" and not any(r.role == "primary" for r in detecting):
        raise c.fail(f"{where}.rules", "no primary rule", "at least one rule with role 'primary'", len(rules))
    min_agree = int(c.number(d.get("min_agree", 2), f"{where}.min_agree"))
    if combine == "agreement" and not 1 <= min_agree <= len(detecting):
        raise c.fail(f"{where}.min_agree", "out of range", f"1..{len(detecting)}", min_agree)
    min_run = c.number(d.get("min_running_s", 0.0), f"{where}.min_running_s")
    if min_run < 0:
        raise c.fail(f"{where}.min_running_s", "negative", "a duration >= 0 s", min_run)
    supp = d.get("suppressed_by", [])
    if not isinstance(supp, list) or any(not isinstance(s, str) for s in supp):
        raise c.fail(f"{where}.suppressed_by", "bad list", "a list of fault ids", supp)
    return FaultSpec(
        id=fid,
        name=c.text(d, "name", where),
        design_row=c.text(d, "design_row", where),
        documents=c.docs(d["documents"], f"{where}.documents"),
        cue=cue,
        detection=c.choice(d["detection"], f"{where}.detection", _DETECTIONS),
        summary=c.text(d, "summary", where),
        limitations=c.text(d, "limitations", where),
        rules=rules,
        causes=c.texts(d["causes"], f"{where}.causes"),
        advice=c.texts(d["advice"], f"{where}.advice"),
        max_severity=c.choice(d.get("max_severity", "high"), f"{where}.max_severity", SEVERITIES[1:]),
        min_running_s=min_run,
        combine=combine,
        min_agree=min_agree,
        suppressed_by=tuple(supp),
        cues=_cues(c, d.get("cues", {}), f"{where}.cues"),
    )


def load_catalogue(path: str | Path | None = None) -> Catalogue:
    """Load and validate a fault catalogue (default: the one shipped in ``gait/data``).

    Raises
    ------
    GaitInputError
        When the file is not valid TOML or an entry is incomplete or inconsistent; the message
        names the entry (``fault 'overstriding'``) and the field (``rules[0].levels``).
    """
    if path is None:
        res = resources.files("gait") / "data" / "faults.toml"
        raw = res.read_bytes()
        name = "gait/data/faults.toml"
    else:
        p = Path(path)
        try:
            raw = p.read_bytes()
        except OSError as e:
            raise GaitInputError("cannot read the fault catalogue", found=str(e), where=Where(file=p)) from None
        name = str(p)
    c = _Checker(name)
    try:
        doc = tomllib.loads(raw.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise GaitInputError(
            "the fault catalogue is not valid TOML", expected="a TOML file", found=str(e), where=Where(file=name)
        ) from None
    c.keys(
        doc,
        "catalogue",
        ("catalogue_version", "fault", "disclaimer", "warning_sign", "unseen_cause", "document"),
        ("language",),
    )
    language = doc.get("language", "en")
    if not isinstance(language, str) or not _LANGUAGE_RE.fullmatch(language):
        raise c.fail("language", "bad language code", "a code such as en, de or pt-BR", language)
    if doc["catalogue_version"] != 1:
        raise c.fail("catalogue_version", "unsupported version", "1", doc["catalogue_version"])
    if not isinstance(doc["fault"], list) or not doc["fault"]:
        raise c.fail("fault", "no faults", "a list of [[fault]] tables", doc["fault"])
    faults = tuple(_fault(c, d, k) for k, d in enumerate(doc["fault"]))
    ids = [f.id for f in faults]
    dup = sorted({i for i in ids if ids.count(i) > 1})
    if dup:
        raise c.fail(f"fault '{dup[0]}'.id", "duplicate id", "each id once", dup[0])
    for f in faults:
        for s in f.suppressed_by:
            if s not in ids or s == f.id:
                raise c.fail(f"fault '{f.id}'.suppressed_by", "unknown fault", "ids of other faults", s)
    unseen = []
    for k, u in enumerate(doc["unseen_cause"]):
        w = f"unseen_cause[{k}]"
        c.keys(u, w, ("topic", "text", "documents"), ())
        unseen.append(
            UnseenCause(c.text(u, "topic", w), c.text(u, "text", w), c.docs(u["documents"], f"{w}.documents"))
        )
    documents: dict[str, Document] = {}
    for k, d in enumerate(doc["document"]):
        w = f"document[{k}]"
        c.keys(d, w, ("id", "title", "topic"), ("publisher", "url"))
        i = c.choice(d["id"], f"{w}.id", DOCUMENTS)
        if i in documents:
            raise c.fail(f"{w}.id", "duplicate id", "each document once", i)
        url = c.text(d, "url", w) if "url" in d else None
        if url is not None and not re.fullmatch(r"https?://\S+", url):
            raise c.fail(f"{w}.url", "not a web address", "an address starting with http:// or https://", url)
        documents[i] = Document(
            id=i,
            title=c.text(d, "title", w),
            publisher=c.text(d, "publisher", w) if "publisher" in d else None,
            url=url,
            topic=c.text(d, "topic", w),
        )
    topics = {i: d.topic for i, d in documents.items()}
    if sorted(topics) != list(DOCUMENTS):
        raise c.fail(
            "document", "documents missing", "one [[document]] for each of " + ", ".join(DOCUMENTS), sorted(topics)
        )
    return Catalogue(
        version=1,
        faults=faults,
        disclaimer=c.text(doc, "disclaimer", "catalogue"),
        warning_signs=c.texts(doc["warning_sign"], "warning_sign"),
        unseen_causes=tuple(unseen),
        document_topics=topics,
        path=name,
        documents=dict(sorted(documents.items())),
        language=language,
    )


#: The shipped catalogue, validated at import.
CATALOGUE: Catalogue = load_catalogue()
