"""The pipeline's SQL files as they run: the text of pipeline/transform/sql/<name>.sql with its generated parts
filled in. A part written `{{ name }}` (or `{{ name("argument") }}`, a Jinja expression) is SQL that repeats a
vocabulary (one line per funding stream, per measure, per group of areas); it is generated here from the
vocabulary's one home (schemas/vocabulary.py, schemas/published.py), so a stream added there is a stream in the
SQL too. The files are Jinja templates with nothing but such parts: an unknown name is an error naming it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import jinja2

from schemas import plausibility, published, vocabulary

_INDENT = "           "  # a SELECT list's continuation lines, under its first column


def _quoted(values: tuple[str, ...]) -> str:
    return ", ".join(f"'{v}'" for v in values)


def panel_measures() -> str:
    """The outcome measures of the area_year panel, as an SQL list's items."""
    return _quoted(published.PANEL_MEASURES)


def _pivot(key: str, values: tuple[str, ...], columns: tuple[tuple[str, str], ...]) -> str:
    """One column per value and (source column, suffix): `max(<source>) FILTER (WHERE <key> = '<value>')`."""
    lines = [f"max({source}) FILTER (WHERE {key} = '{v}') AS {v}{suffix}" for v in values for source, suffix in columns]
    return f",\n{_INDENT}".join(lines)


def panel_funding_columns() -> str:
    """area_year's funding columns, per stream: the chosen figure, what is known of it, its source."""
    # A superseded figure (funding_allocations.superseded_because, where it stays with its source) is left out of
    # the panel, so a row's streams add up; its known says why the cell is blank.
    columns = (
        ("CASE WHEN a.superseded_because IS NULL THEN a.amount_gbp END", "_gbp"),
        ("coalesce(c.known, CASE WHEN a.superseded_because IS NOT NULL THEN 'superseded' END)", "_known"),
        ("CASE WHEN a.superseded_because IS NULL THEN a.source_id END", "_source_id"),
    )
    return _pivot("k.stream", published.STREAMS, columns)


def panel_outcome_columns() -> str:
    """area_year's outcome columns, per measure: the value, the edition it comes from, its source."""
    columns = (("value", ""), ("edition", "_edition"), ("source_id", "_source_id"))
    return _pivot("measure", published.PANEL_MEASURES, columns)


def panel_per_head_columns() -> str:
    """area_year's funding per person, per stream: the chosen figure over the area's population, to four places."""
    lines = [
        f"CAST(round(f.{s}_gbp / pop.population, 4) AS DECIMAL(38, 4)) AS {s}_gbp_per_head"
        for s in vocabulary.PER_HEAD_STREAMS
    ]
    return f",\n{_INDENT}".join(lines)


def area_group(first_funded_year: str) -> str:
    return vocabulary.area_group_sql(first_funded_year)


def mid_year_within(period_start: str, period_end: str) -> str:
    return vocabulary.mid_year_within_sql(period_start, period_end)


def superseded_because(stream: str, financial_year: str) -> str:
    """The SQL expression giving why a stream's figure for a year is not summed (schemas/vocabulary.py
    SUCCESSIONS), NULL where it counts."""
    whens = " ".join(
        f"WHEN {stream} = '{s.stream}' AND {financial_year} >= '{vocabulary.financial_year(s.from_year)}' "
        f"THEN '{s.why.replace(chr(39), chr(39) * 2)}'"
        for s in vocabulary.SUCCESSIONS
    )
    return f"CASE {whens} END" if whens else "CAST(NULL AS VARCHAR)"


def robust_scale() -> str:
    return repr(plausibility.ROBUST_SCALE)


# Parts called with an argument in the SQL (`area_group("v.first_funded_year")`); the others are filled as text.
def note_excluded(kind: str) -> str:
    """Whether a note of this kind leaves its values out of the excluding_flagged_and_noted comparisons
    (schemas/vocabulary.py NOTE_KINDS); false for a note with no kind (a general note)."""
    excluded = [k for k, leaves_out in vocabulary.NOTE_KINDS.items() if leaves_out]
    return f"coalesce({kind} IN ({_quoted(tuple(excluded))}), false)"


CALLED = {"area_group", "mid_year_within", "superseded_because", "note_excluded"}
PARTS: dict[str, Callable[..., str]] = {
    "robust_scale": robust_scale,
    "panel_measures": panel_measures,
    "panel_funding_columns": panel_funding_columns,
    "panel_outcome_columns": panel_outcome_columns,
    "panel_per_head_columns": panel_per_head_columns,
    "area_group": area_group,
    "mid_year_within": mid_year_within,
    "superseded_because": superseded_because,
    "note_excluded": note_excluded,
}


# Strict: a name no part gives fails the render; nothing is escaped (the output is SQL, not HTML).
_JINJA = jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=True, autoescape=False)


def render(text: str, where: str = "SQL") -> str:
    """`text` with every generated part filled in; an unknown part is an error naming it."""
    # Each part is computed as the template is rendered, so a changed vocabulary is always what runs.
    values = {name: (part if name in CALLED else part()) for name, part in PARTS.items()}
    try:
        return _JINJA.from_string(text).render(values)
    except jinja2.UndefinedError as exc:
        raise ValueError(f"{where}: unknown generated part ({exc.message}); known: {', '.join(PARTS)}") from exc
    except jinja2.TemplateSyntaxError as exc:
        raise ValueError(f"{where}, line {exc.lineno}: {exc.message}") from exc


def sql_text(path: Path) -> str:
    """The SQL file at `path` as it runs."""
    return render(path.read_text(encoding="utf-8"), str(path))
