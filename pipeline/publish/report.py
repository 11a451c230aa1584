"""The report published beside the tables: dataset card, data dictionary, changelog and charts.

Every number in it is read from the out tables here, never written by hand, so it cannot go stale.
"""

from dagster_duckdb import DuckDBResource

from pipeline.publish import chart, docs
from pipeline.release import versions
from schemas import PUBLISHED_TABLES

CHART_STREAMS = ("vru", "surge_grip")


def funding_grid(duckdb: DuckDBResource):
    """VRU areas, every (stream, year) column they could have, and the chosen figures and their kinds."""
    with duckdb.get_connection() as con:
        cells = con.execute(
            "SELECT a.area_name, c.stream, c.financial_year, c.known, f.amount_gbp, c.has_conflict "
            "FROM out.funding_coverage c JOIN out.police_force_areas a USING (area_code) "
            "LEFT JOIN out.funding_allocations f USING (area_code, stream, financial_year) "
            "WHERE c.stream IN ('vru', 'surge_grip') "
            "AND c.area_code IN (SELECT area_code FROM out.violence_reduction_units) "
            "ORDER BY a.area_name, c.financial_year, c.stream DESC"
        ).fetchall()
    areas = sorted({c[0] for c in cells})
    columns = sorted({(c[1], c[2]) for c in cells}, key=lambda c: (c[1], CHART_STREAMS.index(c[0])))
    amounts = {(a, s, y): amount for a, s, y, _, amount, _ in cells if amount is not None}
    kinds = {(a, s, y): known + (" !" if conflict else "") for a, s, y, known, _, conflict in cells}
    return areas, columns, amounts, kinds


def homicide_comparison(duckdb: DuckDBResource) -> docs.HomicideComparison:
    """The newest homicide-rate edition's comparison of area groups, both variants, for the card and chart."""
    with duckdb.get_connection() as con:
        edition = con.execute(
            "SELECT edition FROM out.area_outcomes WHERE measure = 'homicide_rate_per_million' "
            "ORDER BY edition_date DESC, edition DESC LIMIT 1"
        ).fetchone()[0]
        rows = con.execute(
            "SELECT period_first_year, area_group, variant, mean_value, median_value, "
            "mean_weighted_by_population_mid2018, n_areas, n_flagged_values_used, areas_left_out "
            "FROM out.outcome_comparison WHERE measure = 'homicide_rate_per_million' AND edition = ? "
            "ORDER BY period_first_year, area_group DESC, variant",
            [edition],
        ).fetchall()
    return docs.HomicideComparison(edition, rows)


def change_by_group(duckdb: DuckDBResource) -> list[tuple]:
    """outcome_change_by_group for 2018-19 against the newest after year, for the card and chart."""
    with duckdb.get_connection() as con:
        return con.execute(
            "SELECT measure, area_group, variant, value_before, value_after, percent_change, n_areas, "
            "n_flagged_values_used, population_mid_year_before, rate_per_1000_before, population_mid_year_after, "
            "rate_missing_because FROM out.outcome_change_by_group "
            "WHERE before_edition = (SELECT max(edition) FROM out.area_outcomes WHERE period_as_published = "
            "'year ending March 2019' AND measure = 'violence_with_injury_offences') "
            "AND after_edition = (SELECT max(after_edition) FROM out.outcome_change_by_group) "
            "ORDER BY measure, area_group, variant"
        ).fetchall()


def quality_flags(duckdb: DuckDBResource) -> list[tuple]:
    with duckdb.get_connection() as con:
        return con.execute(
            "SELECT check_name, severity, table_name, area_code, subject, period, edition, observed, expected, action "
            "FROM out.quality_flags ORDER BY severity, check_name, flag_id"
        ).fetchall()


def source_checks(duckdb: DuckDBResource) -> list[tuple[str, str, int]]:
    """Sources by kind (most authoritative first) and verification status, for the card's count by status."""
    with duckdb.get_connection() as con:
        return con.execute(
            "SELECT kind, verification, count(*) FROM out.sources GROUP BY authority_rank, kind, verification "
            "ORDER BY authority_rank, kind, verification"
        ).fetchall()


def text_column_cells(duckdb: DuckDBResource) -> dict[tuple[str, str], list[str]]:
    """The distinct non-empty cells of every column declared as text, for what a default read guesses of it."""
    cells = {}
    with duckdb.get_connection() as con:
        for name, table in PUBLISHED_TABLES.items():
            for column in (c.name for c in table.columns if c.type == "string"):
                rows = con.execute(
                    f'SELECT DISTINCT "{column}" FROM out.{name} WHERE "{column}" IS NOT NULL AND "{column}" <> \'\' '
                    f"ORDER BY 1"
                ).fetchall()
                cells[(name, column)] = [r[0] for r in rows]
    return cells


def _month(date) -> str:
    return date.strftime("%B %Y")


def card_facts(duckdb: DuckDBResource) -> dict[str, str]:
    """The counts and ranges the card's prose names, so that a new edition or source cannot leave them stale."""
    with duckdb.get_connection() as con:

        def one(sql: str) -> tuple:
            return con.execute(sql).fetchone()

        first, last = one(
            "SELECT min(edition_date), max(edition_date) FROM out.area_outcomes "
            "WHERE measure = 'homicide_rate_per_million'"
        )
        workbooks, knife_first, knife_last = one(
            "SELECT count(DISTINCT edition), min(edition_date), max(edition_date) FROM out.area_outcomes "
            "WHERE measure = 'knife_homicide_offences'"
        )
        # The after year of the card's before-and-after comparison: the newest, as change_by_group chooses it.
        after_start, after_end = one(
            "SELECT min(after_start), max(after_end) FROM out.outcome_change_by_area WHERE after_edition = "
            "(SELECT max(after_edition) FROM out.outcome_change_by_group)"
        )
        people_first, people_last = one("SELECT min(reference_date), max(reference_date) FROM out.area_populations")
        grip, vru = one(
            "SELECT count(DISTINCT area_code) FILTER (stream = 'surge_grip'), "
            "count(DISTINCT area_code) FILTER (stream = 'vru') FROM out.funding_allocations WHERE source_id = 'S01'"
        )
    return {
        "homicide_editions": f"{_month(first)} to {_month(last)}",
        "knife_workbooks": str(workbooks),
        "knife_years": f"years ending {_month(knife_first)} to {_month(knife_last)}",
        "population_years": f"mid-{people_first.year} to mid-{people_last.year}",
        "after_start": _month(after_start),
        "after_end": _month(after_end),
        "after_mid_year": str(after_end.year if after_end.month >= 6 else after_start.year),
        "s01_grip": str(grip),
        "s01_vru": str(vru),
    }


def report_files(
    duckdb: DuckDBResource,
    descriptor: dict,
    decided: versions.Release,
    row_counts: dict[str, int],
    previous_changelog: str | None,
    note: str | None = None,
    replaces: str | None = None,
) -> dict[str, bytes]:
    """The card, dictionary, changelog and charts of one release, by their path in the package."""
    title, version = descriptor["title"], decided.version
    areas, columns, amounts, kinds = funding_grid(duckdb)
    homicide = homicide_comparison(duckdb)
    change_rows = change_by_group(duckdb)
    facts = card_facts(duckdb)
    change = docs.change_section(change_rows, facts["after_end"])
    with duckdb.get_connection() as con:
        totals = con.execute(
            "SELECT total_id, amount_as_published, source_id, cells_known, cells_expected, sum_known_gbp, status "
            "FROM out.national_totals ORDER BY stream DESC, financial_year"
        ).fetchall()
    card = docs.dataset_card(
        descriptor,
        row_counts,
        docs.coverage_matrix(areas, columns, kinds),
        docs.totals_table(totals),
        docs.comparison_table(homicide),
        docs.homicide_alt(homicide),
        docs.flags_section(quality_flags(duckdb)),
        change,
        decided.date,
        docs.read_types_section(docs.guessed_text_columns(text_column_cells(duckdb))),
        facts,
        docs.source_checks_section(source_checks(duckdb)),
    )
    return {
        docs.CHART_PATH: chart.funding_grid_png(areas, columns, amounts, kinds),
        docs.HOMICIDE_CHART_PATH: chart.homicide_png(
            homicide,
            "Source: ONS homicide offences per million population by police force area (Explore Local Statistics), "
            f"edition {homicide.edition}; flagged values: this package's quality_flags. {title}, version {version}.",
        ),
        docs.CHANGE_CHART_PATH: chart.change_png(
            [(r[0], r[1], r[5], r[6]) for r in change_rows if r[2] == "all_values"],
            "Source: ONS police force area data tables (police recorded crime), years ending March 2019 and "
            f"{facts['after_end']}. {title}, version {version}.",
            facts["after_end"],
        ),
        "README.md": card.encode("utf-8"),
        "DATA_DICTIONARY.md": docs.data_dictionary(row_counts, version).encode("utf-8"),
        "CHANGELOG.md": versions.changelog(previous_changelog, decided, note, replaces).encode("utf-8"),
        "CITATION.cff": docs.citation_cff(descriptor, decided.date).encode("utf-8"),
        "dataset.jsonld": docs.json_ld(descriptor).encode("utf-8"),
    }
