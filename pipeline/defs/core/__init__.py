"""Core layer: raw tables cleaned and joined in the DuckDB warehouse (schema `core`), by subject: reference
tables, funding, outcomes.

Joins and renames are SQL (pipeline/transform/sql/); the few steps that parse published wording (amounts,
start years, identifiers) are the pure functions of pipeline/transform/parsing.py.
"""

from pipeline.defs.core.funding import (
    core_funding_allocations,
    core_funding_coverage,
    core_national_totals,
    funding_reports_asset,
)
from pipeline.defs.core.outcomes import (
    area_outcomes_asset,
    core_area_year,
    core_outcome_change_by_area,
    core_outcome_change_by_group,
    core_outcome_comparison,
    core_outcome_group_rates,
    core_outcome_revisions,
    core_quality_flags,
    core_source_note_values,
    core_source_notes,
)
from pipeline.defs.core.population import core_area_outcome_rates, core_area_populations
from pipeline.defs.core.reference import (
    core_area_names,
    core_evidence_approaches,
    core_impact_claims,
    core_initiative_approaches,
    core_initiatives,
    core_local_policing_bodies,
    core_police_force_areas,
    core_report_claim_evidence,
    core_report_claims,
    core_sources,
    core_violence_reduction_units,
)
from pipeline.defs.steps import Step
from pipeline.sources.manifest import Manifest
from pipeline.transform.warehouse import SQL_DIR, sql_deps

__all__ = ["SQL_DIR", "core_tables", "sql_deps"]


def core_tables(manifest: Manifest | None) -> list[Step]:
    """Every core asset as its own definition, in an order that follows their dependencies."""
    files = manifest.files.values() if manifest else []
    funding_files = [f"raw_{f.file_id}" for f in files if f.funding_layout]
    outcome_layouts = ("ons_pfa_long", "ons_pfa_workbook", "ons_els_indicator", "ons_wide_table")
    outcome_tables = [f"raw_{f.file_id}" for f in files if f.table_layout in outcome_layouts]
    return [
        core_sources,
        core_police_force_areas,
        core_area_names,
        core_violence_reduction_units,
        core_local_policing_bodies,
        core_initiatives,
        core_impact_claims,
        core_report_claims,
        core_report_claim_evidence,
        core_evidence_approaches,
        core_initiative_approaches,
        funding_reports_asset(funding_files),
        core_funding_allocations,
        core_funding_coverage,
        core_national_totals,
        area_outcomes_asset(outcome_tables),
        core_area_populations,
        core_area_outcome_rates,
        core_outcome_revisions,
        core_outcome_change_by_area,
        core_quality_flags,
        core_source_notes,
        core_source_note_values,
        core_outcome_comparison,
        core_outcome_group_rates,
        core_outcome_change_by_group,
        core_area_year,
    ]
