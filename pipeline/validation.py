"""Pandera failures as messages a person can act on, for every stage that checks a table.

Every message names the file, the row (counting the header as row 1, as a spreadsheet does) and the
column, so that whoever fixes the input can go straight to the cell.
"""

from __future__ import annotations

from dataclasses import dataclass

import dagster as dg
import pandas as pd
import pandera.errors
import pyarrow as pa

from schemas.model import Table

FORMULA_CHECK = "no_spreadsheet_formula"
ROW_COLUMN = "_row"  # spreadsheet row number kept beside every raw table
MAX_LISTED = 50


def spreadsheet_row(index: int, header_row: int = 1) -> int:
    """Row number as a spreadsheet shows it: the header is row 1 (or header_row), the first record the next."""
    return int(index) + header_row + 1


@dataclass(frozen=True)
class Failure:
    file: str
    row: int | None
    column: str | None
    value: object
    problem: str

    def message(self) -> str:
        where = [self.file]
        if self.row is not None:
            where.append(f"row {self.row}")
        if self.column is not None:
            where.append(f"column {self.column!r}")
        value = "" if self.value is None else f": value {self.value!r}"
        return f"{', '.join(where)}{value}: {self.problem}"


def validate(
    frame: pd.DataFrame, table: Table, file_label: str, *, raw: bool = False, header_row: int = 1
) -> list[Failure]:
    """All failures of `frame` against the table's schema (lazy: every problem, not just the first)."""
    try:
        table.pandera_schema(raw=raw).validate(frame, lazy=True)
    except pandera.errors.SchemaErrors as exc:
        hints = {c.name: c.pattern_hint for c in table.columns if c.pattern_hint}
        return [_failure(row, file_label, hints, header_row) for row in exc.failure_cases.itertuples(index=False)]
    return []


# Arrow types as the pandas dtypes the published schemas declare (schemas/model.py), so that pandera's coercion is a
# no-op: text stays Arrow-backed and the pattern, enum and formula checks run as Arrow kernels, not per cell in Python.
_DECLARED_DTYPES = {
    pa.string(): pd.StringDtype("pyarrow"),
    pa.int64(): pd.Int64Dtype(),
    pa.bool_(): pd.BooleanDtype(),
    pa.float64(): pd.Float64Dtype(),
}


def declared_frame(table: pa.Table) -> pd.DataFrame:
    """An Arrow table (a warehouse query's rows) as the frame a published table's pandera schema checks. Exact
    decimals must arrive as DOUBLE: the schema compares numbers as floats, as frictionless does."""
    return table.to_pandas(types_mapper=_DECLARED_DTYPES.get, date_as_object=False)


def _failure(case, file_label: str, hints: dict[str, str], header_row: int = 1) -> Failure:
    index = case.index
    row = spreadsheet_row(index, header_row) if index is not None and not pd.isna(index) else None
    column = case.column if isinstance(case.column, str) else None
    check = str(case.check)
    value = None if pd.isna(case.failure_case) else case.failure_case
    if check == "column_in_dataframe":
        return Failure(file_label, None, value, None, "column is missing from the file")
    if check == "column_in_schema":
        return Failure(file_label, None, value, None, "column is not in the schema (extra or renamed column)")
    if check == "column_ordered":
        return Failure(file_label, None, value, None, "column is out of the declared order")
    if check == "not_nullable":
        return Failure(file_label, row, column, None, "a value is required here but the cell is blank")
    if check.startswith("field_uniqueness") or check == "multiple_fields_uniqueness":
        return Failure(file_label, row, column, value, "duplicate value where values must be unique")
    if check == FORMULA_CHECK:
        return Failure(
            file_label,
            row,
            column,
            value,
            "starts with =, + or @ followed by more, which a spreadsheet would run as "
            "a formula; refused so that no published cell can run code in Excel",
        )
    if check.startswith("str_matches") and column in hints:
        return Failure(file_label, row, column, value, f"expected {hints[column]}")
    return Failure(file_label, row, column, value, f"fails check {check}")


def check_result(
    check_name: str, failures: list[Failure], what: str, asset_key: str | None = None
) -> dg.AssetCheckResult:
    """A blocking check's result: the first failures in the description, all of them as metadata. `asset_key`
    names the asset where one step makes several."""
    if not failures:
        return dg.AssetCheckResult(
            asset_key=asset_key,
            check_name=check_name,
            passed=True,
            description=f"{what}: no failures",
            metadata={"num_failures": 0},
        )
    listed = failures[:MAX_LISTED]
    table = "| file | row | column | value | problem |\n|---|---|---|---|---|\n" + "\n".join(
        f"| {f.file} | {f.row or ''} | {f.column or ''} | {_cell(f.value)} | {_cell(f.problem)} |" for f in listed
    )
    if len(failures) > MAX_LISTED:
        table += f"\n\n… and {len(failures) - MAX_LISTED} more"
    return dg.AssetCheckResult(
        asset_key=asset_key,
        check_name=check_name,
        passed=False,
        description=f"{what}: {len(failures)} failure(s): "
        + "; ".join(f.message() for f in failures[:3])
        + ("; …" if len(failures) > 3 else ""),
        metadata={"num_failures": len(failures), "failure_cases": dg.MetadataValue.md(table)},
    )


def _cell(value: object) -> str:
    return "" if value is None else str(value).replace("|", "\\|").replace("\n", " ")
