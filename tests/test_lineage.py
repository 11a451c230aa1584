"""The assets each SQL file depends on, read from the SQL by a parser (sqlglot): every table and macro in the
raw and core schemas the file reads, each mapped to the asset that makes it."""

import pytest

from pipeline.transform import warehouse

# Each SQL file's dependencies as the regular expressions and the hand-kept MADE_BY table found them before
# the SQL was parsed: the parser must find the same lineage in the files as they are.
EXPECTED = {
    "core_area_names": ["core_police_force_areas", "raw_project__area_names"],
    "core_area_outcomes": ["core_police_force_areas", "raw_project__outcome_measures"],
    "core_area_outcome_rates": ["core_area_outcomes", "core_area_populations"],
    "core_area_populations": ["raw_ons__lad23_csp_pfa_lookup_dec2023", "raw_ons__mye_lad23_2011_2023"],
    "core_area_year": [
        "core_area_outcomes",
        "core_area_populations",
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
        "core_area_populations",
        "core_outcome_change_by_area",
        "core_police_force_areas",
        "core_quality_flags",
        "core_source_note_values",
        "core_violence_reduction_units",
    ],
    "core_outcome_comparison": [
        "core_area_outcomes",
        "core_area_populations",
        "core_police_force_areas",
        "core_quality_flags",
        "core_source_note_values",
        "core_source_notes",
        "core_violence_reduction_units",
    ],
    "core_outcome_group_rates": ["core_outcome_comparison"],
    "core_outcome_revisions": ["core_area_outcomes"],
    "core_police_force_areas": ["raw_reference__police_force_areas"],
    "core_quality_flags": [],
    "core_report_claim_evidence": ["raw_project__report_claim_verdicts"],
    "core_report_claims": ["raw_project__report_claim_verdicts", "raw_reference__report_claims"],
    "core_source_note_values": ["core_area_outcomes", "core_source_notes"],
    "core_source_notes": ["core_area_outcomes", "raw_project__source_note_coverage"],
    "core_sources": ["raw_manifest__sources", "raw_project__source_kinds"],
    "core_violence_reduction_units": ["core_sources", "raw_reference__violence_reduction_units"],
    "checks/area_above_national_total": ["core_funding_allocations", "core_funding_reports", "core_national_totals"],
    "checks/change_outlier": ["core_outcome_change_by_area"],
    "checks/year_on_year_break": ["core_area_outcomes", "core_outcome_change_by_area"],
    "checks/counts_add_up": ["core_area_outcomes", "raw_project__outcome_measures"],
    "checks/known_cells_above_national_total": [
        "core_funding_allocations",
        "core_funding_reports",
        "core_national_totals",
    ],
    "checks/multi_year_equals_one_year": ["core_funding_reports"],
    "checks/no_negative_counts_or_rates": ["core_area_outcomes"],
    "checks/note_on_a_force_is_read": ["core_area_outcomes", "core_source_notes"],
    "checks/partnerships_add_up": ["core_area_outcomes", "raw_project__outcome_measures"],
    "checks/peer_outlier": ["core_area_outcomes"],
    "checks/population_against_table_p3": ["core_area_outcomes", "core_area_populations"],
    "checks/populations_add_up": ["core_area_populations", "raw_ons__mye_lad23_2011_2023"],
    "checks/rate_against_counts": ["core_area_outcomes"],
    "checks/revision_within_tolerance": ["core_area_outcomes", "core_outcome_revisions"],
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


def test_a_new_reference_adds_a_dependency_and_a_comment_or_string_does_not(tmp_path):
    """The parser reads references from the syntax tree: a join to core.x in the SQL makes core_x a dependency;
    core.y in a comment or a string literal does not; a macro another file creates is a dependency on that file."""
    sql = tmp_path / "sql"
    sql.mkdir()
    for path in warehouse.SQL_DIR.glob("*.sql"):
        (sql / path.name).write_text(path.read_text(encoding="utf-8"), encoding="utf-8")
    query = sql / "core_area_year.sql"
    text = query.read_text(encoding="utf-8").rstrip().removesuffix(";")
    assert "core.x" not in text and "core.y" not in text
    before = warehouse.sql_deps("core_area_year", sql)
    query.write_text(
        text + "\n-- reads core.y, says this comment\n"
        "UNION ALL BY NAME SELECT x.*, 'see core.y' AS note, /* core.y */ core.full_year('19') AS y\n"
        "FROM core.x AS x;\n",
        encoding="utf-8",
    )
    after = warehouse.sql_deps("core_area_year", sql)
    assert set(after) - set(before) == {"core_x"} | ({"core_area_outcomes"} - set(before))
    assert "core_y" not in after
    # core.full_year is a macro core_area_outcomes.sql creates: a dependency on that asset, not on core_full_year.
    assert "core_area_outcomes" in after and "core_full_year" not in after


def test_what_a_sql_file_creates_is_made_by_it():
    """Helper tables and macros are made by the asset of the file that creates them, read from the files."""
    made = warehouse.made_by()
    assert made["core.source_urls"] == made["core.cited_source"] == "core_sources"
    assert {made[f"core.{m}"] for m in ("full_year", "period_start", "period_end")} == {"core_area_outcomes"}
    for path in warehouse.SQL_DIR.glob("core_*.sql"):
        created = warehouse.sql_lineage(path.stem).creates
        assert f"core.{path.stem.removeprefix('core_')}" in created or path.stem == "core_initiatives"


def test_sql_the_parser_cannot_read_is_refused_naming_the_file(tmp_path):
    (tmp_path / "core_broken.sql").write_text("CREATE TABLE core.broken AS SELECT FROM WHERE (;", encoding="utf-8")
    with pytest.raises(ValueError, match=r"core_broken\.sql"):
        warehouse.sql_deps("core_broken", tmp_path)
