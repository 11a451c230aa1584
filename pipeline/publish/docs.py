"""The dataset card (outputs/README.md) and the data dictionary, generated from the declarations."""

from __future__ import annotations

import json
import re
from pathlib import Path
from string import Template

import yaml

from pipeline.publish.chart import CHANGE_MEASURES, GROUP_NAMES, GROUPS, STREAM_LABELS, HomicideComparison
from pipeline.publish.package import AUTHOR, PACKAGE_ID
from schemas import PUBLISHED_TABLES
from schemas.model import Column, Table
from schemas.plausibility import RULES
from schemas.vocabulary import AREA_GROUP, stream_first_year

TEMPLATES = Path(__file__).resolve().parent / "templates"
CHART_PATH = "funding_by_area_and_year.png"
HOMICIDE_CHART_PATH = "homicide_rate_vru_and_other_areas.png"
CHANGE_CHART_PATH = "recorded_offences_before_and_after.png"


def _escape(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _constraints(column: Column) -> str:
    parts = ["required"] * column.required + ["unique"] * column.unique + column.constraint_phrases()
    return "; ".join(parts) or "—"


def table_section(table: Table, rows: int) -> str:
    lines = [
        f"## `{table.name}`: {table.title}",
        "",
        _escape(table.description),
        "",
        f"- File: `data/{table.name}.csv` ({rows} rows); Parquet: `parquet/{table.name}.parquet`",
        f"- Primary key: {', '.join(f'`{c}`' for c in table.primary_key)}",
        f"- Read in its declared types: R `{r_typed_read(table)}`; pandas `{pandas_typed_read(table)}`",
    ]
    for fk in table.foreign_keys:
        lines.append(
            f"- Foreign key: {', '.join(f'`{c}`' for c in fk.columns)} → "
            f"`{fk.table}`.{', '.join(f'`{c}`' for c in fk.reference)}"
        )
    lines += ["", "| column | type | unit | constraints | description |", "|---|---|---|---|---|"]
    lines += [
        f"| `{c.name}` | {c.type} | {c.unit or '—'} | {_escape(_constraints(c))} | {_escape(c.description)} |"
        for c in table.columns
    ]
    return "\n".join(lines)


def data_dictionary(row_counts: dict[str, int], version: str) -> str:
    head = (
        "# Data dictionary\n\n"
        f"Version {version}. Generated from the table declarations in `schemas/`, the same declarations that "
        "produce the pandera checks and `datapackage.json`.\n\n"
        "Conventions: `area_code` is the ONS police force area code (E23… England, W15… Wales); "
        "`financial_year` runs April to March, written `2023-24`; `source_id` resolves to a row of `sources`; "
        "amounts are in pounds sterling (GBP). A blank cell is a missing value, never a zero.\n"
    )
    sections = [table_section(t, row_counts[name]) for name, t in PUBLISHED_TABLES.items()]
    return head + "\n" + "\n\n".join(sections) + "\n"


SYMBOLS = {
    "exact": "E",
    "rounded": "R",
    "lower_bound": "≥",
    "upper_bound": "≤",
    "multi_year_only": "M",
    "none": "—",
}
LEGEND = (
    "E exact figure · R rounded · ≥ lower bound ('more than') · ≤ upper bound ('up to') · M only a multi-year "
    "total covers the year · — nothing found · ! sources conflict · blank: the area was not funded that year"
)


def coverage_matrix(areas: list[str], columns: list[tuple[str, str]], kinds: dict[tuple[str, str, str], str]) -> str:
    """Areas by (stream, year): what is known, in one symbol a cell."""
    header = "| area | " + " | ".join(f"{STREAM_LABELS[s]} {y}" for s, y in columns) + " |"
    rule = "|---|" + "---|" * len(columns)

    def cell(key: tuple[str, str, str]) -> str:
        if key not in kinds:
            return ""
        known, _, conflict = kinds[key].partition(" ")
        return SYMBOLS[known] + ("!" if conflict else "")

    rows = [f"| {area} | " + " | ".join(cell((area, s, y)) for s, y in columns) + " |" for area in areas]
    cells = [kinds[(a, s, y)] for a in areas for s, y in columns if (a, s, y) in kinds]
    known = sum(1 for k in cells if not k.startswith(("none", "multi_year_only")))
    summary = f"\n\n{LEGEND}.\n\n{known} of {len(cells)} cells have a published figure for the year."
    return "\n".join([header, rule, *rows]) + summary


def totals_table(rows: list[tuple]) -> str:
    """National totals: (total_id, printed total, source, known, expected, sum of known, status)."""
    lines = [
        "| stream and year | published total | source | areas known | sum of known figures | status |",
        "|---|---|---|---|---|---|",
    ]
    lines += [
        f"| {total_id.rsplit(':', 1)[0]} | {printed} | {source} | {known} of {expected} | £{total:,.0f} | {status} |"
        for total_id, printed, source, known, expected, total, status in rows
    ]
    return "\n".join(lines)


def _period(first_year: str) -> str:
    return f"{first_year[:4]}-04 to {int(first_year[:4]) + 3}-03"


def _number(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}"


def comparison_table(comparison: HomicideComparison) -> str:
    """Per period and group: mean of every value, mean and median without flagged values, weighted mean."""
    header = (
        "| period | " + " | ".join(f"{GROUP_NAMES[g]}: mean (all) | mean | median | weighted" for g in GROUPS) + " |"
    )
    lines = [header, "|---|" + "---|" * (4 * len(GROUPS))]
    for period in comparison.periods:
        cells = []
        for g in GROUPS:
            all_mean = comparison.value(period, g, "all_values")
            flagged = next((r[7] for r in comparison.rows if r[:3] == (period, g, "all_values")), 0)
            cells += [
                _number(all_mean) + ("*" if flagged else ""),
                _number(comparison.value(period, g, "excluding_flagged")),
                _number(comparison.value(period, g, "excluding_flagged", 4)),
                _number(comparison.value(period, g, "excluding_flagged", 5)),
            ]
        lines.append(f"| {_period(period)} | " + " | ".join(cells) + " |")
    flagged = comparison.flagged_used()
    note = (
        f"\n\nEdition `{comparison.edition}`. **mean (all)** uses every value the edition gives; **mean**, "
        "**median** and **weighted** (by mid-2018 population) leave out the values a plausibility rule flagged "
        "(see Quality flags below). "
    )
    if flagged:
        note += (
            "\\* marks a mean that rests on flagged values: "
            + "; ".join(f"{_period(p)} {GROUP_NAMES[g]} ({n})" for p, g, n in flagged)
            + ". Read those with the flags, not as findings."
        )
        first, last = comparison.periods[0], comparison.periods[-1]
        for group in sorted({g for _, g, _ in flagged}, key=GROUPS.index):
            note += (
                f" {GROUP_NAMES[group]}, {_period(first)} to {_period(last)}: with every value "
                f"{_number(comparison.value(first, group, 'all_values'))} → "
                f"{_number(comparison.value(last, group, 'all_values'))}; without the flagged values "
                f"{_number(comparison.value(first, group, 'excluding_flagged'))} → "
                f"{_number(comparison.value(last, group, 'excluding_flagged'))}."
            )
    else:
        note += "No value in this edition's comparison is flagged."
    return "\n".join(lines) + note


def homicide_alt(comparison: HomicideComparison) -> str:
    """The homicide chart's message in words: each group's mean rate (flagged values left out) in the first and
    the last period, which group was highest in each, and what the flagged values do where they change a mean."""
    first, last = comparison.periods[0], comparison.periods[-1]

    def highest(period: str) -> str:
        values = {g: v for g in GROUPS if (v := comparison.value(period, g, "excluding_flagged")) is not None}
        return IN_WORDS[max(values, key=values.__getitem__)]

    def years(period: str) -> str:
        return f"April {period[:4]} to March {int(period[:4]) + 3}"

    moves = "; ".join(
        f"{IN_WORDS[g]} {_number(comparison.value(first, g, 'excluding_flagged'))} and "
        f"{_number(comparison.value(last, g, 'excluding_flagged'))}"
        for g in GROUPS
    )
    text = (
        f"Mean homicide rate per million population in the three years {years(first)} and in {years(last)}, "
        f"flagged values left out: {moves}. Highest in the first period: the {highest(first)}; in the last: "
        f"the {highest(last)}."
    )
    for group in sorted({g for _, g, _ in comparison.flagged_used()}, key=GROUPS.index):
        text += (
            f" With the flagged values the {IN_WORDS[group]} read "
            f"{_number(comparison.value(first, group, 'all_values'))} and "
            f"{_number(comparison.value(last, group, 'all_values'))}."
        )
    return text + " Descriptive: it says nothing about what caused any difference."


IN_WORDS = {code: group.in_words for code, group in AREA_GROUP.items()}


def change_section(rows: list[tuple], after: str) -> tuple[str, str]:
    """The before/after answer in words and as a table, and the chart's alt text.

    `rows`: outcome_change_by_group for 2018-19 against the year to `after` ("June 2025"), (measure, area_group,
    variant, value_before, value_after, percent_change, n_areas, n_flagged_values_used).
    """

    def find(measure, group, variant):
        return next((r for r in rows if r[:3] == (measure, group, variant)), None)

    sentences = []
    for measure, label in (
        ("violence_with_injury_offences", "violence with injury"),
        ("possession_of_weapons_offences", "possession of weapons offences"),
    ):
        parts = []
        for group in GROUPS:
            row = find(measure, group, "all_values")
            if row:
                parts.append(
                    f"{row[5]:+.1f}% in the {IN_WORDS[group]} ({row[3]:,.0f} to {row[4]:,.0f}, {row[6]} areas)"
                )
        sentences.append(f"Recorded {label} changed by " + "; ".join(parts) + ".")
    lines = [
        f"| measure | group | areas | 2018-19 | year to {after} | change | change without flagged values "
        "| also without values a publisher's note marks |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for measure, label in CHANGE_MEASURES.items():
        for group in GROUPS:
            every, clean = find(measure, group, "all_values"), find(measure, group, "excluding_flagged")
            if not every:
                continue
            note = f"{clean[5]:+.1f}% ({clean[6]} areas)" if clean and clean[7] == 0 and clean != every else "same"
            if every[7] and clean:
                note = f"{clean[5]:+.1f}% ({clean[6]} areas; {every[7]} flagged left out)"
            # Values an ONS note says are under-counted, estimated or not comparable (source_note_values) left out too.
            noted = find(measure, group, "excluding_flagged_and_noted")
            by_notes = f"{noted[5]:+.1f}% ({noted[6]} areas)" if noted and clean and noted[6] != clean[6] else "same"
            lines.append(
                f"| {label} | {GROUP_NAMES[group]} | {every[6]} | {every[3]:,.0f} | {every[4]:,.0f} | "
                f"{every[5]:+.1f}% | {note} | {by_notes} |"
            )
    alt = " ".join(sentences) + " Descriptive: recorded crime, with recording practice changed between the periods."
    return " ".join(sentences) + "\n\n" + "\n".join(lines) + "\n\n" + change_rates_table(rows, after), alt


VARIANT_WORDS = {
    "all_values": "every value",
    "excluding_flagged": "without flagged values",
    "excluding_flagged_and_noted": "also without values a publisher's note marks",
}


def _rate(value) -> str:
    """Two places, four below 1 (a group's homicides are about 0.01 per 1,000)."""
    return "—" if value is None else f"{value:.2f}" if value >= 1 else f"{value:.4f}"


def change_rates_table(rows: list[tuple], after: str) -> str:
    """The same comparisons per 1,000 people, each period on the population of its own mid-year: a row for every
    values, and one for each variant that leaves out other areas than the variant before it. `rows` as for
    change_section, then population_mid_year_before, rate_per_1000_before, population_mid_year_after and
    rate_missing_because. A period without its own mid-year population has no rate; why is printed as the table
    gives it."""
    before_mid = ", ".join(sorted({f"mid-{r[8]}" for r in rows if r[8] is not None}))
    lines = [
        "The same comparisons per 1,000 people (`outcome_change_by_group`: each group's offences over the summed "
        "population of the same areas, on the ONS estimate for the 30 June inside the period; rounded here to two "
        "places where 1 or more, the table keeps four):",
        "",
        f"| measure | group | values | areas | 2018-19 per 1,000 ({before_mid}) | year to {after} per 1,000 |",
        "|---|---|---|---|---|---|",
    ]
    for measure, label in CHANGE_MEASURES.items():
        for group in GROUPS:
            shown = None
            for variant in VARIANT_WORDS:
                row = next((r for r in rows if r[:3] == (measure, group, variant)), None)
                if row is None or (shown is not None and row[6] == shown[6] and row[3] == shown[3]):
                    continue
                lines.append(
                    f"| {label} | {GROUP_NAMES[group]} | {VARIANT_WORDS[variant]} | {row[6]} | {_rate(row[9])} | "
                    f"{'—' if row[11] else 'population in hand; the rate is not yet a published column'} |"
                )
                shown = row
    reasons = sorted({r[11] for r in rows if r[11]})
    if reasons:
        lines += ["", "No rate (—) where its population is not in hand: " + "; ".join(reasons) + "."]
    return "\n".join(lines)


def flags_section(flags: list[tuple]) -> str:
    """Every quality flag: check, severity, where, observed, expected, what the package did."""
    if not flags:
        return "No value is flagged by any plausibility rule."
    counts: dict[str, int] = {}
    for flag in flags:
        counts[flag[0]] = counts.get(flag[0], 0) + 1
    lines = [
        f"{len(flags)} values are flagged: " + ", ".join(f"{check} {n}" for check, n in counts.items()) + ".",
        "",
        "| check | severity | table | area | subject | period | edition or report | observed | expected | action |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    lines += ["| " + " | ".join(_escape(str(v or "")) for v in flag) + " |" for flag in flags]
    return "\n".join(lines)


def source_checks_section(rows: list[tuple[str, str, int]]) -> str:
    """How many sources of each kind are verified, contradicted or not re-checked (rows: kind, verification, n)."""
    statuses = next(c for c in PUBLISHED_TABLES["sources"].columns if c.name == "verification").enum or ()
    counts = {(kind, status): n for kind, status, n in rows}
    kinds = list(dict.fromkeys(kind for kind, _, _ in rows))
    totals = {status: sum(counts.get((kind, status), 0) for kind in kinds) for status in statuses}
    lines = [
        f"Sources by status, of {sum(totals.values())}: "
        + ", ".join(f"`{status}` {totals[status]}" for status in statuses)
        + ".",
        "",
        "| kind | " + " | ".join(statuses) + " | all |",
        "|---|" + "---|" * (len(statuses) + 1),
    ]
    lines += [
        f"| `{kind}` | "
        + " | ".join(str(counts.get((kind, status), 0)) for status in statuses)
        + f" | {sum(counts.get((kind, status), 0) for status in statuses)} |"
        for kind in kinds
    ]
    lines.append("| all | " + " | ".join(str(totals[status]) for status in statuses) + f" | {sum(totals.values())} |")
    return "\n".join(lines)


# The counts and ranges the card's prose names, read from the out tables by report.card_facts.
CARD_FACTS = (
    "homicide_editions",
    "knife_workbooks",
    "knife_years",
    "population_years",
    "after_start",
    "after_end",
    "after_mid_year",
    "s01_grip",
    "s01_vru",
)


def dataset_card(
    descriptor: dict,
    row_counts: dict[str, int],
    coverage: str,
    totals: str,
    comparison: str,
    homicide_alt: str,
    flags: str,
    change: tuple[str, str],
    release_date: str,
    read_types: str,
    facts: dict[str, str],
    source_checks: str,
) -> str:
    """`facts`: the counts and ranges the card's prose names, read from the out tables (report.card_facts)."""
    tables = "\n".join(
        f"| `{name}` | {row_counts[name]} | {PUBLISHED_TABLES[name].one_row_per} "
        f"| [data/{name}.csv](data/{name}.csv) | [parquet/{name}.parquet](parquet/{name}.parquet) |"
        for name in PUBLISHED_TABLES
    )
    licences = "\n".join(
        f"- [{lic['title']}]({lic['path']}) (`{lic['name']}`): sources "
        + ", ".join(s["title"].split(":")[0] for s in descriptor["sources"] if s["licence"] == lic["name"])
        for lic in descriptor["licenses"]
    )
    licences += (
        "\n\nEach table's own licence is the `licenses` of its resource in `datapackage.json` (the first is the one "
        "catalogues such as datasette, CKAN and Zenodo show): a table whose every row comes from sources under one "
        "open licence carries that licence; the others are this project's compilations, under CC BY 4.0, listed "
        "with the open licences of what they reproduce.\n\n| table | licences |\n|---|---|\n"
        + "\n".join(
            f"| `{r['name']}` | {', '.join(lic['name'] for lic in r['licenses'])} |" for r in descriptor["resources"]
        )
    )
    template = Template((TEMPLATES / "dataset_card.md").read_text(encoding="utf-8"))
    return template.substitute(
        title=descriptor["title"],
        vru_areas=row_counts["violence_reduction_units"],
        police_force_areas=row_counts["police_force_areas"],
        hotspot_from=stream_first_year("hotspot_fund"),
        version=descriptor["version"],
        date=release_date,
        description=descriptor["description"],
        tables=tables,
        coverage=coverage,
        totals=totals,
        comparison=comparison,
        homicide_alt=homicide_alt,
        flags=flags,
        change=change[0],
        read_types=read_types,
        source_checks=source_checks,
        rules=rules_list(),
        **facts,
        change_alt=change[1],
        change_chart=CHANGE_CHART_PATH,
        homicide_chart=HOMICIDE_CHART_PATH,
        chart=CHART_PATH,
        chart_alt="Known VRU and Grip funding by area and year; hatched cells have no published figure",
        licences=licences,
        author=AUTHOR,
        package_id=descriptor["id"],
        archive=f"{descriptor['name']}-{descriptor['version']}.zip",
        archive_folder=f"{descriptor['name']}-{descriptor['version']}",
    )


def rules_list() -> str:
    """Every plausibility rule as declared: its name, severity and the first sentence of its explanation."""
    return "\n".join(
        f"- `{rule.name}` ({rule.severity}): {rule.explanation.split('. ')[0].rstrip('.')}." for rule in RULES
    )


# The project is the author: no person is named who did not sign the work.


def citation_cff(descriptor: dict, date: str) -> str:
    """CITATION.cff (Citation File Format 1.2.0, type dataset) for one release, from the package descriptor: what
    reference managers and repository hosts read to cite this version."""
    document = {
        "cff-version": "1.2.0",
        "message": "If you use this data package, cite this version of it.",
        "type": "dataset",
        "title": descriptor["title"],
        "version": descriptor["version"],
        "date-released": date,
        "authors": [{"name": AUTHOR}],
        "identifiers": [{"type": "other", "value": PACKAGE_ID, "description": "datapackage.json id (all versions)"}],
        "abstract": descriptor["description"],
        "keywords": descriptor["keywords"],
        # SPDX identifiers of the open licences of the material reproduced (per table: datapackage.json).
        "license": [lic["name"] for lic in descriptor["licenses"] if lic["name"] in ("CC-BY-4.0", "OGL-UK-3.0")],
    }
    return yaml.safe_dump(document, sort_keys=False, allow_unicode=True, width=110)


def json_ld(descriptor: dict) -> str:
    """schema.org Dataset (JSON-LD) from the package descriptor, for search engines and catalogues: one
    DataDownload per CSV, each with the licence of its table."""
    document = {
        "@context": "https://schema.org/",
        "@type": "Dataset",
        "@id": descriptor["id"],
        "identifier": descriptor["id"],
        "name": descriptor["title"],
        "alternateName": descriptor["name"],
        "description": descriptor["description"],
        "version": descriptor["version"],
        "datePublished": descriptor["created"][:10],
        "keywords": descriptor["keywords"],
        "creator": {"@type": "Organization", "name": AUTHOR},
        "publisher": {"@type": "Organization", "name": AUTHOR},
        "license": [lic["path"] for lic in descriptor["licenses"]],
        "isAccessibleForFree": True,
        "spatialCoverage": {"@type": "Place", "name": "England and Wales"},
        "distribution": [
            {
                "@type": "DataDownload",
                "name": r["name"],
                "description": r["title"],
                "encodingFormat": r["mediatype"],
                "contentUrl": r["path"],
                "contentSize": f"{r['bytes']} bytes",
                "sha256": r["hash"].removeprefix("sha256:"),
                "license": r["licenses"][0]["path"],
            }
            for r in descriptor["resources"]
        ],
    }
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


# What the default read of each client does with a column of text, by what all its non-empty cells look like. The
# clients guess a column's type from its cells; these rules are the ones tests/test_readers.py checks against
# pandas, polars and DuckDB on every run, and against R's readr where R is installed.
CLIENTS = ("pandas", "polars", "DuckDB", "readr")
GUESSES = (
    # (what every non-empty cell is, a regular expression for one cell, the clients whose default read changes it)
    ("true or false", r"(?i)true|false", CLIENTS),
    ("a plain number", r"-?[0-9]+(\.[0-9]+)?", CLIENTS),
    ("an ISO date", r"[0-9]{4}-[0-9]{2}-[0-9]{2}", ("DuckDB", "readr")),
    # readr trims spaces and drops thousands separators: "5,658 " comes back as 5658.
    ("a number, with thousands separators or spaces", r"\s*-?[0-9][0-9,]*(\.[0-9]+)?\s*", ("readr",)),
)
EMPTY_READS = ("pandas", "readr")  # a column with no value: pandas reads float, readr logical (polars, DuckDB text)


def guessed_text_columns(cells: dict[tuple[str, str], list[str]]) -> dict[tuple[str, str], tuple[str, str]]:
    """(table, column) of a declared text column -> (what its cells are, the clients whose default read changes
    its type), from the distinct non-empty cells printed."""

    found = {}
    for key, values in cells.items():
        if not values:
            found[key] = ("empty in every row", ", ".join(EMPTY_READS))
            continue
        for what, pattern, clients in GUESSES:
            if all(re.fullmatch(pattern, v) for v in values):
                found[key] = (what, ", ".join(clients))
                break
    return found


def read_types_section(guessed: dict[tuple[str, str], tuple[str, str]]) -> str:
    """Which declared text columns a client's default read changes, and the typed reads that keep them."""
    if not guessed:
        return "No default read of these clients changes a column declared as text."
    lines = [
        "A default read guesses each column's type from its cells, so it changes these columns, declared as text "
        "(their printed form is the point of them; computed from the cells on every build):",
        "",
        "| column | every printed cell is | changed by the default read of |",
        "|---|---|---|",
    ]
    lines += [f"| `{table}.{column}` | {what} | {clients} |" for (table, column), (what, clients) in guessed.items()]
    table = next(iter(guessed))[0]
    lines += [
        "",
        "To read every column in its declared type, give the types from `datapackage.json` (each table's own line "
        "is in [DATA_DICTIONARY.md](DATA_DICTIONARY.md)), e.g. for `" + table + "`:",
        "",
        "```r",
        r_typed_read(PUBLISHED_TABLES[table]),
        "```",
        "",
        "```python",
        pandas_typed_read(PUBLISHED_TABLES[table]),
        "```",
    ]
    return "\n".join(lines)


R_TYPES = {"string": "c", "integer": "i", "number": "d", "boolean": "l", "date": "D"}


def r_typed_read(table: Table) -> str:
    """readr's call with col_types from the declared types, one letter a column."""
    types = "".join(R_TYPES[c.type] for c in table.columns)
    return f'{table.name} <- readr::read_csv("data/{table.name}.csv", col_types = "{types}")'


def pandas_typed_read(table: Table) -> str:
    """pandas' call keeping every declared text column as text (pandas already reads the numbers, dates stay ISO
    text)."""
    text = ", ".join(f'"{c.name}": "string"' for c in table.columns if c.type == "string")
    return f'{table.name} = pandas.read_csv("data/{table.name}.csv", dtype={{{text}}})'
