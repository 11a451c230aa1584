"""The one declaration of every table, and what is derived from it.

Each table (raw or published) is declared once as a `Table` of `Column`s. From that declaration come:

- the pandera schema that validates it (`pandera_schema`),
- the Frictionless table schema written to `datapackage.json` (`frictionless_schema`),
- the column schema shown in the Dagster UI (`dagster_table_schema`),
- the DuckDB column types of the published table (`duckdb_type`).

No other copy of a column list exists: change a column here and every output follows.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import dagster as dg
import pandera.pandas as pa

# Frictionless field type -> (pandas dtype for pandera, DuckDB type)
_TYPES: dict[str, tuple[str, str]] = {
    "string": ("string[pyarrow]", "VARCHAR"),
    "integer": ("Int64", "BIGINT"),
    # Money and other decimals are exact in DuckDB, so CSVs never show float artefacts.
    "number": ("Float64", "DECIMAL(18, 2)"),
    "boolean": ("boolean", "BOOLEAN"),
    "date": ("datetime64[ns]", "DATE"),
}


# A text cell starting with =, + or @ and more is run as a formula when the CSV is opened in a
# spreadsheet. A lone symbol is not (ONS prints "+" for a suppressed rate) and is allowed.
# Raw cells are text as published, held as Arrow strings while they are checked: the pattern and formula checks then
# run as vectorised Arrow kernels instead of a Python call per cell.
RAW_TEXT = "string[pyarrow]"
NO_FORMULA = pa.Check(
    lambda values: ~values.str.match(r"[=+@]."),
    name="no_spreadsheet_formula",
    error="no_spreadsheet_formula",
)


@dataclass(frozen=True)
class Column:
    """One column: its name, Frictionless type, meaning and constraints."""

    name: str
    type: str
    description: str
    title: str = ""
    unit: str = ""
    required: bool = False
    unique: bool = False
    enum: tuple[str, ...] = ()
    pattern: str = ""
    # What a value matching `pattern` looks like, in words, for error messages.
    pattern_hint: str = ""
    minimum: float | None = None
    maximum: float | None = None
    # Decimal places kept for a number: 2 for money (as printed, pence included); more for published rates.
    decimals: int = 2
    # Upstream columns this one is computed from, as "table.column" (column lineage for auditors).
    derived_from: tuple[str, ...] = ()
    # How the out layer computes the published cell from the core table's, when not as it is: a SQL expression
    # over core columns (e.g. a printed symbol as a code no reader takes for a missing value).
    published_as: str = ""

    def __post_init__(self) -> None:
        if self.type not in _TYPES:
            raise ValueError(f"column {self.name!r}: unknown type {self.type!r}")

    @property
    def display_title(self) -> str:
        """The declared title, or one made from the name ('area_code' -> 'Area code')."""
        return self.title or self.name.replace("_", " ").capitalize()

    @property
    def duckdb_type(self) -> str:
        if self.type == "number" and self.decimals != 2:
            return f"DECIMAL(38, {self.decimals})"
        return _TYPES[self.type][1]

    def constraint_phrases(self) -> list[str]:
        """Constraints beyond required and unique, in words (Dagster column schema, data dictionary)."""
        phrases = []
        if self.enum:
            phrases.append("one of: " + ", ".join(self.enum))
        if self.pattern:
            phrases.append(f"matches {self.pattern}")
        if self.minimum is not None:
            phrases.append(f">= {self.minimum:g}")
        if self.maximum is not None:
            phrases.append(f"<= {self.maximum:g}")
        return phrases

    def frictionless_field(self) -> dict:
        constraints: dict = {}
        if self.required:
            constraints["required"] = True
        if self.unique:
            constraints["unique"] = True
        if self.enum:
            constraints["enum"] = list(self.enum)
        if self.pattern:
            constraints["pattern"] = self.pattern
        if self.minimum is not None:
            constraints["minimum"] = self.minimum
        if self.maximum is not None:
            constraints["maximum"] = self.maximum
        spec: dict = {"name": self.name, "type": self.type, "title": self.display_title}
        spec["description"] = self.description
        if self.unit:
            spec["unit"] = self.unit
        if self.enum:
            # Data Package v2: the values a categorical field takes, which tools may read as a factor/category.
            spec["categories"] = list(self.enum)
        if constraints:
            spec["constraints"] = constraints
        return spec

    def pandera_checks(self) -> list[pa.Check]:
        checks = []
        if self.enum:
            checks.append(pa.Check.isin(list(self.enum)))
        if self.pattern:
            # Frictionless patterns match the whole value; so must pandera's.
            checks.append(pa.Check.str_matches(f"^(?:{self.pattern})$"))
        if self.minimum is not None:
            checks.append(pa.Check.ge(self.minimum))
        if self.maximum is not None:
            checks.append(pa.Check.le(self.maximum))
        return checks


@dataclass(frozen=True)
class ForeignKey:
    columns: tuple[str, ...]
    table: str
    reference: tuple[str, ...]


@dataclass(frozen=True)
class Table:
    """A table: its columns, keys and the words a reader needs."""

    name: str
    title: str
    description: str
    columns: tuple[Column, ...]
    primary_key: tuple[str, ...] = ()
    foreign_keys: tuple[ForeignKey, ...] = ()
    # Raw tables: the manifest file they are read from.
    file_id: str = ""
    # Published tables: what one row is, in a few words, for the dataset card ("Violence Reduction Unit").
    one_row_per: str = ""
    notes: tuple[str, ...] = field(default=())
    # False where a publisher's file carries more columns than the pipeline reads (declared ones are
    # still required, in any order); True refuses any extra, missing or reordered column.
    strict: bool = True

    def __post_init__(self) -> None:
        names = [c.name for c in self.columns]
        if len(set(names)) != len(names):
            raise ValueError(f"table {self.name!r}: duplicate column names")
        for key in (*self.primary_key, *(c for fk in self.foreign_keys for c in fk.columns)):
            if key not in names:
                raise ValueError(f"table {self.name!r}: key column {key!r} is not declared")

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)

    @property
    def source_columns(self) -> list[str]:
        """The columns that name a source: source_id, and (a panel such as area_year) one per value, each a
        foreign key to sources."""
        named = {"source_id"} & set(self.column_names)
        named |= {c for fk in self.foreign_keys if fk.table == "sources" for c in fk.columns}
        return sorted(named)

    def pandera_schema(self, *, raw: bool = False) -> pa.DataFrameSchema:
        """Validation for this table.

        Raw tables are read as text exactly as published (every value a string, blank cells missing),
        so only presence, patterns and vocabularies are checked there; published tables are checked
        with their declared types.
        """
        columns = {
            c.name: pa.Column(
                RAW_TEXT if raw else _TYPES[c.type][0],
                checks=c.pandera_checks() + ([NO_FORMULA] if c.type == "string" else []),
                nullable=not c.required,
                unique=c.unique,
                # A repeated value is an error on each later row, as frictionless reports it.
                report_duplicates="exclude_first",
                coerce=True,
                title=c.display_title,
                description=c.description,
            )
            for c in self.columns
        }
        return pa.DataFrameSchema(
            columns,
            strict=self.strict,
            ordered=raw and self.strict,
            unique=list(self.primary_key) if len(self.primary_key) > 1 else None,
            report_duplicates="exclude_first",
            name=self.name,
            description=self.description,
        )

    def frictionless_schema(self) -> dict:
        schema: dict = {"fields": [c.frictionless_field() for c in self.columns]}
        if self.primary_key:
            schema["primaryKey"] = list(self.primary_key)
        if self.foreign_keys:
            schema["foreignKeys"] = [
                {
                    "fields": list(fk.columns),
                    "reference": {"resource": fk.table, "fields": list(fk.reference)},
                }
                for fk in self.foreign_keys
            ]
        return schema

    def dagster_table_schema(self) -> dg.TableSchema:
        return dg.TableSchema(
            columns=[
                dg.TableColumn(
                    name=c.name,
                    type=c.type,
                    description=c.description + (f" Unit: {c.unit}." if c.unit else ""),
                    constraints=dg.TableColumnConstraints(
                        nullable=not c.required,
                        unique=c.unique,
                        other=c.constraint_phrases(),
                    ),
                )
                for c in self.columns
            ]
        )
