"""Plausibility rules: whether a well-formed number is also believable.

The schemas say what a value must look like; these rules say what it must be consistent with:
other editions of the same statistic, its peers, other sources for the same area, and published
totals. Each rule is declared once here, with its thresholds; from the declaration come

- an asset check on the asset that makes the data (visible in the Dagster UI, with every flag as
  metadata): WARN where a person must decide, blocking ERROR where a value is impossible;
- the rows it contributes to the published `quality_flags` table, with the explanation below;
- what the published comparisons leave out in their `excluding_flagged` variant: the rule's declared Action,
  which the comparisons' SQL reads (core.plausibility_rules) and from which the flag's published `action` wording
  is generated.

The SQL of each rule is pipeline/transform/sql/checks/<name>.sql; it returns one row per flagged value with
the columns of FLAG_COLUMNS, and reads its thresholds as named parameters ($max_robust_z, ...). No
rule names an area: a rule that finds one area's values wrong must find the next area's too.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

# What every rule's SQL returns for each flagged value.
FLAG_COLUMNS = (
    "area_code",  # ONS code of the area the value is for, blank for a national figure
    "subject",  # measure or funding stream
    "period",  # period as published, or financial year
    "edition",  # edition (raw file) of an outcome value; report or total id of a funding figure
    "observed",  # the value, in words a reader can check against the source
    "expected",  # the range or value it was checked against
    "detail",  # what was compared, for this flag
    "source_id",  # the document the flagged value comes from
)
SEVERITIES = ("warn", "error")
# The outlier rules' robust deviation: the median absolute deviation times this (one standard deviation for
# normally distributed values). Used by pipeline/transform/sql/macros/robust_score.sql and named in the explanation.
ROBUST_SCALE = 1.4826


class Action(StrEnum):
    """What the package does with a value a rule flags."""

    STOPS_BUILD = "stops_build"  # the run stops (the rules of severity error, and only they)
    EXCLUDED = "excluded_from_excluding_flagged"  # left out of a comparison's excluding_flagged variant
    KEPT = "kept_and_flagged"  # published as given, with the flag; no comparison uses it
    NOT_PUBLISHED = "not_published"  # the value is not published; the flag is for the reader of the source


# The comparison whose excluding_flagged variant leaves out the flagged values of each table (the rule's table).
COMPARISON_OF = {"area_outcomes": "outcome_comparison", "outcome_change_by_area": "outcome_change_by_group"}


def action_text(action: Action, table: str) -> str:
    """The published wording of what the package does with a flagged value of `table` (quality_flags.action)."""
    if action is Action.STOPS_BUILD:
        return "the run stops; nothing is published"
    if action is Action.EXCLUDED:
        return f"left out of the excluding_flagged variant of {COMPARISON_OF[table]}; kept, with this flag, in {table}"
    if action is Action.KEPT:
        return "published as the source gives it, with this flag; no published comparison uses it"
    return "nothing published rests on it; reported for the reader of the source table"


@dataclass(frozen=True)
class Rule:
    name: str
    asset: str  # the asset whose data the rule judges; the check is attached there
    table: str  # the published table that holds the flagged values
    severity: str  # warn: a person must decide; error: impossible, and the run stops
    explanation: str  # what the rule tests and why, for the flags table and the Dagster UI
    action: Action  # what the package does with a flagged value
    params: dict = field(default_factory=dict)
    query: str = (
        ""  # the SQL file (pipeline/transform/sql/checks/<query>.sql) when two rules share one; default: the name
    )

    @property
    def sql_name(self) -> str:
        return self.query or self.name

    @property
    def action_text(self) -> str:
        return action_text(self.action, self.table)

    def __post_init__(self) -> None:
        if self.severity not in SEVERITIES:
            raise ValueError(f"rule {self.name!r}: severity must be one of {SEVERITIES}")
        if (self.severity == "error") != (self.action is Action.STOPS_BUILD):
            raise ValueError(f"rule {self.name!r}: a rule stops the build if and only if its severity is error")
        if self.action is Action.EXCLUDED and self.table not in COMPARISON_OF:
            raise ValueError(f"rule {self.name!r}: no comparison leaves out flagged values of {self.table}")


RATE_MEASURES = (
    "homicide_rate_per_million",
    "homicide_rate_per_1000",
    "violence_with_injury_rate_per_1000",
    "violence_without_injury_rate_per_1000",
)

RULES: tuple[Rule, ...] = (
    Rule(
        name="url_is_the_publishers_own",
        asset="core_sources",
        table="sources",
        severity="error",
        explanation="A source's url must be the publisher's own address, which a reader can follow: never a cache, "
        "mirror, staging or editing host. Where the document was read on such a host, that address goes in "
        "archive_url and url gives the publisher's.",
        action=Action.STOPS_BUILD,
        params={
            "hosts": (
                r"^https?://webcachetest\.",
                r"^https?://[^/]*\.mpw\.cds\.co\.uk/",
                r"^https?://(www\.)?nrmm\.london/",
                r"^https?://[^/]*-admin\.",
                r"^https?://[^/]*\.azurewebsites\.net/",
                r"^https?://[^/]*\.formationmedia\.dev/",
                r"^https?://web\.archive\.org/",
            )
        },
    ),
    Rule(
        name="counts_add_up",
        asset="core_area_outcomes",
        table="area_outcomes",
        severity="error",
        explanation="In every ONS police force area table, the 43 areas plus British Transport Police must add up "
        "to the published England and Wales figure for each count column that is published as a measure "
        "(populations, rounded to 100 per area, within the tolerance). A table that does not add up was misread "
        "or misprinted.",
        action=Action.STOPS_BUILD,
        params={"population_tolerance": 400, "published": True},
    ),
    Rule(
        name="unpublished_counts_add_up",
        query="counts_add_up",
        asset="core_area_outcomes",
        table="area_outcomes",
        severity="warn",
        explanation="The same sum for the count columns of the ONS tables that the package does not publish: a "
        "column that does not add up says something about the table's care, though no published value is in it.",
        action=Action.NOT_PUBLISHED,
        params={"population_tolerance": 400, "published": False},
    ),
    Rule(
        name="partnerships_add_up",
        asset="core_area_outcomes",
        table="area_outcomes",
        severity="error",
        explanation="In an ONS table by Community Safety Partnership, each force's total must equal the sum of its "
        "partnerships, for every column published as a measure (where the table prints both).",
        action=Action.STOPS_BUILD,
    ),
    Rule(
        name="no_negative_counts_or_rates",
        asset="core_area_outcomes",
        table="area_outcomes",
        severity="error",
        explanation="A count, population or rate below zero is impossible, in every cell of every ONS table, "
        "published or not (percentage changes may be negative and are not checked).",
        action=Action.STOPS_BUILD,
    ),
    Rule(
        name="peer_outlier",
        asset="core_area_outcomes",
        table="area_outcomes",
        severity="warn",
        explanation="A rate far outside those of the other areas for the same measure, period and edition: more "
        f"than max_robust_z robust deviations (median absolute deviation x {ROBUST_SCALE}) from the median of the "
        "43 areas. "
        "A real one-off (a mass-casualty event counted in one year) or a source error: a person must decide.",
        action=Action.EXCLUDED,
        params={"measures": RATE_MEASURES, "max_robust_z": 5.0},
    ),
    Rule(
        name="rate_against_counts",
        asset="core_area_outcomes",
        table="area_outcomes",
        severity="warn",
        explanation="A three-year homicide rate against the area's own single-year homicide counts in the ONS "
        "police force area tables: the homicides a year the rate implies (rate x the area's mid-year population "
        "nearest the period's middle year / 1,000,000) must lie within max_ratio times, plus slack_per_year, of the "
        "average of the counted years that fall in the period. Counts are police recorded, rates from the Homicide "
        "Index, so small differences are expected.",
        action=Action.EXCLUDED,
        params={"max_ratio": 2.0, "slack_per_year": 5.0},
    ),
    Rule(
        name="revision_within_tolerance",
        asset="core_outcome_revisions",
        table="area_outcomes",
        severity="warn",
        explanation="A value that moves between editions of the same statistic by more than relative_tolerance "
        "of the earlier value and by more than an absolute floor: count_floor offences for a count (a count of 8 "
        "that becomes 4 is noise, not news), absolute_tolerance for a rate or a population. Settled periods and "
        "the earlier edition's newest period alike: ONS revises its newest figures as a matter of course, but "
        "the largest revisions are there (95 in 100 newest-year counts of 50 or more move by under 2 %), and a "
        "move of a quarter is a revision to explain or an error.",
        action=Action.EXCLUDED,
        params={"relative_tolerance": 0.25, "absolute_tolerance": 0.5, "count_floor": 10},
    ),
    Rule(
        name="change_outlier",
        asset="core_outcome_change_by_area",
        table="outcome_change_by_area",
        severity="warn",
        explanation="An area whose percentage change in recorded offences between a year before and a year after "
        "VRU funding is more than max_robust_z robust deviations from the median change of all areas (same "
        "measure, same editions), judged only where at least min_count_before offences were recorded before (a "
        "change from 3 to 8 homicides is noise, not news): a recording change, a boundary change or a source "
        "error is likelier than a real change of that size, and a person must decide.",
        action=Action.EXCLUDED,
        params={"max_robust_z": 5.0, "min_count_before": 50},
    ),
    Rule(
        name="year_on_year_break",
        asset="core_outcome_change_by_area",
        table="outcome_change_by_area",
        severity="warn",
        explanation="An area's before-and-after change that spans a break in the area's own series: a change of "
        "its count from one year to the next (two editions' rolling years a year apart) more than max_robust_z "
        "robust deviations from the other areas' changes over the same two years, judged where at least "
        "min_count_before offences were recorded in the first year; every change of that area and measure whose "
        "before period ends before the later of the two years is flagged, whatever change_outlier says of it. "
        "Areas' year-on-year changes are tightly spread, so a force's recording change stands far outside them, "
        "where its change over six years, among changes spread far wider, can sit just under change_outlier's "
        "cut-off; a person must decide.",
        action=Action.EXCLUDED,
        params={"max_robust_z": 5.0, "min_count_before": 50},
    ),
    Rule(
        name="note_on_a_force_is_read",
        asset="core_source_notes",
        table="source_notes",
        severity="warn",
        explanation="A footnote the publisher prints under a table that names a force, or whose marker sits on a "
        "force's name, says something about that force's figures (an under-count, a recording change, an "
        "estimate). Until this project's reading gives it a kind and what it covers "
        "(raw/mappings/source_note_coverage.csv), the comparisons cannot leave those values out, whatever a "
        "threshold says: a person must read it.",
        action=Action.KEPT,
    ),
    Rule(
        name="populations_add_up",
        asset="core_area_populations",
        table="area_populations",
        severity="error",
        explanation="The police force areas' populations, each summed from its districts in the ONS mid-year "
        "estimates, must add up to the England and Wales total the same workbook prints for that mid-year (MYE4 for "
        "every year, MYE1 for its own), to the person: otherwise a district was left out, placed in two areas or "
        "misread.",
        action=Action.STOPS_BUILD,
    ),
    Rule(
        name="population_against_table_p3",
        asset="core_area_populations",
        table="area_populations",
        severity="warn",
        explanation="An area's population summed from the mid-year estimates against the population ONS printed "
        "for the same mid-year in Table P3 of the police force area tables (rounded to 100): the estimates were "
        "rebased after Census 2021, so they differ a little, but by more than relative_tolerance of the printed "
        "figure and more than absolute_tolerance people (the City of London's 8,000 people move by several per "
        "cent) means a district misplaced by the lookup, a boundary change or a misread.",
        action=Action.KEPT,
        params={"relative_tolerance": 0.05, "absolute_tolerance": 1000},
    ),
    Rule(
        name="single_source_breaks_pattern",
        asset="core_funding_allocations",
        table="funding_allocations",
        severity="warn",
        explanation="A chosen figure that at most one source pins down (other reports are only 'more than' bounds) "
        "and that differs by more than max_ratio from the median of the same area's other chosen figures for the "
        "stream in years when national allocations were near-flat. A probable misprint unless another source "
        "confirms it.",
        action=Action.KEPT,
        params={"streams": ("vru",), "years": ("2019-20", "2020-21", "2021-22"), "max_ratio": 1.25},
    ),
    Rule(
        name="multi_year_equals_one_year",
        asset="core_funding_reports",
        table="funding_reports",
        severity="warn",
        explanation="A multi-year total that equals, to the pound, a single-year figure for the same area and "
        "stream inside its span: most likely a per-year amount read as a total.",
        action=Action.KEPT,
    ),
    Rule(
        name="area_above_national_total",
        asset="core_national_totals",
        table="funding_allocations",
        severity="warn",
        explanation="An area's chosen figure larger than the published national total of its stream and year.",
        action=Action.KEPT,
    ),
    Rule(
        name="known_cells_above_national_total",
        asset="core_national_totals",
        table="national_totals",
        severity="warn",
        explanation="The sum of the known area figures (their lowest readings) already exceeds the published "
        "national total of the stream and year, before any missing area is added.",
        action=Action.KEPT,
    ),
)


def rules_for(asset: str) -> tuple[Rule, ...]:
    return tuple(r for r in RULES if r.asset == asset)
