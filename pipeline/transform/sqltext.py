"""The pipeline's SQL files as they run: the text of pipeline/transform/sql/<name>.sql with its generated parts
filled in. A part written `{{ name }}` (or `{{ name(argument) }}`) is SQL that repeats a vocabulary (one line
per funding stream, per measure, per group of areas); it is generated here from the vocabulary's one home
(schemas/vocabulary.py, schemas/published.py), so a stream added there is a stream in the SQL too."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from schemas import plausibility, published, vocabulary

_PART = re.compile(r"\{\{\s*(\w+)(?:\(([^)]*)\))?\s*\}\}")
_INDENT = "           "  # a SELECT list's continuation lines, under its first column


def _quoted(values: tuple[str, ...]) -> str:
    return ", ".join(f"'{v}'" for v in values)


def panel_measures() -> str:
    """The outcome measures of the area_year panel, as an SQL list's items."""
    return _quoted(published.PANEL_MEASURES)


def panel_funding_columns() -> str:
    """area_year's funding columns, per stream: the chosen figure, what is known of it, its source."""
    lines = []
    for s in published.STREAMS:
        lines += [
            f"max(a.amount_gbp) FILTER (WHERE k.stream = '{s}') AS {s}_gbp",
            f"max(c.known) FILTER (WHERE k.stream = '{s}') AS {s}_known",
            f"max(a.source_id) FILTER (WHERE k.stream = '{s}') AS {s}_source_id",
        ]
    return f",\n{_INDENT}".join(lines)


def panel_outcome_columns() -> str:
    """area_year's outcome columns, per measure: the value, the edition it comes from, its source."""
    lines = []
    for m in published.PANEL_MEASURES:
        lines += [
            f"max(value) FILTER (WHERE measure = '{m}') AS {m}",
            f"max(edition) FILTER (WHERE measure = '{m}') AS {m}_edition",
            f"max(source_id) FILTER (WHERE measure = '{m}') AS {m}_source_id",
        ]
    return f",\n{_INDENT}".join(lines)


def area_group(first_funded_year: str) -> str:
    return vocabulary.area_group_sql(first_funded_year)


def robust_scale() -> str:
    return repr(plausibility.ROBUST_SCALE)


PARTS: dict[str, Callable[..., str]] = {
    "robust_scale": robust_scale,
    "panel_measures": panel_measures,
    "panel_funding_columns": panel_funding_columns,
    "panel_outcome_columns": panel_outcome_columns,
    "area_group": area_group,
}


def render(text: str, where: str = "SQL") -> str:
    """`text` with every generated part filled in; an unknown part is an error naming it."""

    def fill(match: re.Match) -> str:
        name, argument = match[1], match[2]
        if name not in PARTS:
            raise ValueError(f"{where}: unknown generated part {{{{ {name} }}}}; known: {', '.join(PARTS)}")
        return PARTS[name](argument.strip()) if argument is not None else PARTS[name]()

    return _PART.sub(fill, text)


def sql_text(path: Path) -> str:
    """The SQL file at `path` as it runs."""
    return render(path.read_text(encoding="utf-8"), str(path))
