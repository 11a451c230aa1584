"""The assets each SQL file depends on, read from the SQL by a parser (sqlglot): every table and macro in the
raw and core schemas the file reads, each mapped to the asset that makes it."""

import pytest

from pipeline.transform import warehouse

# Each SQL file's dependencies as the regular expressions and the hand-kept MADE_BY table found them before
# the SQL was parsed: the parser must find the same lineage in the files as they are.
EXPECTED = {
    "core_area_names": ["core_police_force_areas", "raw_project__area_names"],
    "core_area_outcomes": ["core_police_force_areas", "raw_project__outcome_measures"],
    "core_area_year": [
        "core_area_outcomes",
        "core_funding_allocations",
        "core_funding_coverage",
        "core_police_force_areas",
    ],
    "core_evidence_approaches": ["core_sources", "raw_reference__evidence_ratings"],
    "core_funding_allocations": ["core_funding_reports"],
    "core_impact_claims": ["core_sources", "raw_reference__impact_claims"],
    "core_initiative_approaches": ["core_evidence_approaches", "raw_project__initiative_approaches"],
    "core_initiatives": ["core_sources", "raw_reference__initiatives"],
    "core_local_policing_bodies": ["raw_reference__police_force_areas"],
    "core_outcome_change_by_area": ["core_area_outcomes"],
    "core_outcome_change_by_group": [
        "core_outcome_change_by_area",
        "core_police_force_areas",
        "core_quality_flags",
        "core_violence_reduction_units",
    ],
    "core_outcome_comparison": [
        "core_area_outcomes",
        "core_police_force_areas",
        "core_quality_flags",
        "core_violence_reduction_units",
    ],
    "core_outcome_revisions": ["core_area_outcomes"],
    "core_police_force_areas": ["raw_reference__police_force_areas"],
    "core_quality_flags": [],
    "core_report_claim_evidence": ["raw_project__report_claim_verdicts"],
    "core_report_claims": ["raw_project__report_claim_verdicts", "raw_reference__report_claims"],
    "core_sources": ["raw_manifest__sources", "raw_project__source_kinds"],
    "core_violence_reduction_units": ["core_sources", "raw_reference__violence_reduction_units"],
    "checks/area_above_national_total": ["core_funding_allocations", "core_funding_reports", "core_national_totals"],
    "checks/change_outlier": ["core_outcome_change_by_area"],
    "checks/counts_add_up": ["core_area_outcomes", "raw_project__outcome_measures"],
    "checks/known_cells_above_national_total": [
        "core_funding_allocations",
        "core_funding_reports",
        "core_national_totals",
    ],
    "checks/multi_year_equals_one_year": ["core_funding_reports"],
    "checks/no_negative_counts_or_rates": ["core_area_outcomes"],
    "checks/partnerships_add_up": ["core_area_outcomes", "raw_project__outcome_measures"],
    "checks/peer_outlier": ["core_area_outcomes"],
    "checks/rate_against_counts": ["core_area_outcomes"],
    "checks/revision_within_tolerance": ["core_outcome_revisions"],
    "checks/single_source_breaks_pattern": ["core_funding_allocations", "core_funding_reports"],
    "checks/url_is_the_publishers_own": ["core_sources"],
}


@pytest.mark.parametrize("name", list(EXPECTED))
def test_the_lineage_of_every_sql_file(name):
    assert warehouse.sql_deps(name) == EXPECTED[name]


def test_every_sql_file_is_expected():
    files = [p.stem for p in warehouse.SQL_DIR.glob("*.sql")] + [
        "checks/" + p.stem for p in (warehouse.SQL_DIR / "checks").glob("*.sql")
    ]
    assert sorted(files) == sorted(EXPECTED)
