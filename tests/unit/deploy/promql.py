"""Metric names in PromQL expressions and in Prometheus text expositions.

Deliberately small: PromQL is not parsed, only stripped of everything that is not
a metric name (strings, label matchers, ranges, grouping clauses, functions,
keywords, numbers, Grafana variables), which is enough for the expressions of
this repository's dashboards and rules, and checked by tests on examples.
"""

from __future__ import annotations

import re

_KEYWORDS = frozenset({
    "sum", "min", "max", "avg", "count", "stddev", "stdvar", "topk", "bottomk",
    "quantile", "count_values", "group", "by", "without", "on", "ignoring",
    "group_left", "group_right", "offset", "bool", "and", "or", "unless", "atan2",
    "inf", "nan",
})
_STRING = re.compile(r'"(?:\\.|[^"\\])*"|\'(?:\\.|[^\'\\])*\'')
_MATCHERS = re.compile(r"\{[^{}]*\}")
_RANGE = re.compile(r"\[[^\[\]]*\]")
_GROUPING = re.compile(
    r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^()]*\)")
_VARIABLE = re.compile(r"\$\{?\w+\}?")
_IDENTIFIER = re.compile(r"[A-Za-z_:][A-Za-z0-9_:]*")

SYNTHETIC = frozenset({"up", "scrape_duration_seconds", "scrape_samples_scraped"})
"""Series Prometheus writes itself for every target."""


def metric_names(expr: str) -> set[str]:
    """The metric names an expression selects."""
    text = _STRING.sub('""', expr)
    text = _VARIABLE.sub("", text)
    text = _MATCHERS.sub("", text)
    text = _RANGE.sub("", text)
    text = _GROUPING.sub("", text)
    names: set[str] = set()
    for match in _IDENTIFIER.finditer(text):
        before = text[match.start() - 1] if match.start() else " "
        after = text[match.end():].lstrip()
        if before.isdigit() or before == ".":
            continue  # the exponent or unit of a number or duration
        if after.startswith("(") or match.group().lower() in _KEYWORDS:
            continue
        names.add(match.group())
    return names


_SUFFIXES = {
    "counter": ("_total", "_created"),
    "histogram": ("_bucket", "_sum", "_count", "_created"),
    "summary": ("_sum", "_count", "_created"),
    "gauge": (),
    "info": ("_info",),
}


def exported_names(exposition: str) -> set[str]:
    """Every series name a Prometheus text exposition offers, samples or not.

    A labelled metric with no child yet has only its ``# TYPE`` line; its series
    names are derived from the type, as Prometheus would see them once it has.
    """
    names: set[str] = set()
    for line in exposition.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(maxsplit=3)
            base = name.removesuffix("_total") if kind == "counter" else name
            names |= {base, *(base + s for s in _SUFFIXES.get(kind, ()))}
        elif line and not line.startswith("#"):
            names.add(_IDENTIFIER.match(line).group())  # type: ignore[union-attr]
    return names
