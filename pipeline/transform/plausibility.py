"""Running the plausibility rules of schemas/plausibility.py as Dagster asset checks.

Each rule's SQL (pipeline/transform/sql/checks/<name>.sql) returns its flags; they are stored in the warehouse as
`core.flags__<name>` (gathered into the published quality_flags table) and reported as the result of
the rule's asset check, every flag listed in the check's metadata.
"""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pandas as pd
from dagster_duckdb import DuckDBResource

from pipeline.transform.sqltext import sql_text
from schemas.plausibility import FLAG_COLUMNS, Rule, rules_for

CHECKS_DIR = Path(__file__).resolve().parent / "sql" / "checks"
# The outlier method the rules share (robust_centre, robust_spread, robust_z, ...), made before each rule runs.
MACROS = Path(__file__).resolve().parent / "sql" / "macros" / "robust_score.sql"
MAX_LISTED = 50


def check_specs(asset: str) -> list[dg.AssetCheckSpec]:
    """One check per rule attached to the asset; an impossible value (severity error) blocks downstream."""
    return [
        dg.AssetCheckSpec(
            rule.name,
            asset=asset,
            blocking=rule.severity == "error",
            description=f"Plausibility ({rule.severity}): {rule.explanation}",
        )
        for rule in rules_for(asset)
    ]


def flags(con, rule: Rule) -> pd.DataFrame:
    """The rule's flags: one row per flagged value, with FLAG_COLUMNS."""
    query = sql_text(CHECKS_DIR / f"{rule.sql_name}.sql")
    con.execute(sql_text(MACROS))
    params = {k: list(v) if isinstance(v, tuple) else v for k, v in rule.params.items()}
    frame = con.execute(query, params or None).df()
    missing = [c for c in FLAG_COLUMNS if c not in frame]
    if missing:
        raise ValueError(f"{rule.name}.sql returns no column(s) {', '.join(missing)}")
    frame = frame[list(FLAG_COLUMNS)].astype(object)
    return frame.where(frame.notna(), None).sort_values(list(FLAG_COLUMNS[:4]), na_position="first")


def run_checks(duckdb: DuckDBResource, asset: str) -> list[dg.AssetCheckResult]:
    """Run the asset's rules, store their flags in the warehouse and return the check results."""
    results = []
    with duckdb.get_connection() as con:
        for rule in rules_for(asset):
            found = flags(con, rule)
            con.register("found", found)
            con.execute(
                f"CREATE OR REPLACE TABLE core.flags__{rule.name} AS SELECT "
                # Blank is missing, in every format (an empty string would differ between CSV and Parquet).
                + ", ".join(f"NULLIF(CAST({c} AS VARCHAR), '') AS {c}" for c in FLAG_COLUMNS)
                + " FROM found"
            )
            con.unregister("found")
            results.append(check_result(rule, found))
    return results


def check_result(rule: Rule, found: pd.DataFrame) -> dg.AssetCheckResult:
    severity = dg.AssetCheckSeverity.ERROR if rule.severity == "error" else dg.AssetCheckSeverity.WARN
    metadata: dict = {"num_flags": len(found), "thresholds": dg.MetadataValue.json(dict(rule.params))}
    if len(found):
        listed = found.head(MAX_LISTED)
        metadata["flags"] = dg.MetadataValue.md(
            "| "
            + " | ".join(FLAG_COLUMNS)
            + " |\n|"
            + "---|" * len(FLAG_COLUMNS)
            + "\n"
            + "\n".join("| " + " | ".join(_cell(v) for v in row) + " |" for row in listed.itertuples(index=False))
            + (f"\n\n… and {len(found) - MAX_LISTED} more" if len(found) > MAX_LISTED else "")
        )
    return dg.AssetCheckResult(
        check_name=rule.name,
        passed=found.empty,
        severity=severity,
        description=f"{len(found)} value(s) flagged" + (f"; first: {_summary(found.iloc[0])}" if len(found) else ""),
        metadata=metadata,
    )


def _summary(flag: pd.Series) -> str:
    where = ", ".join(str(flag[c]) for c in ("area_code", "subject", "period", "edition") if flag[c])
    return f"{where}: {flag['observed']} (expected {flag['expected']})"


def _cell(value: object) -> str:
    return "" if value is None else str(value).replace("|", "\\|").replace("\n", " ")
