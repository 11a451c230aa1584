"""Each table is declared once; every derived schema follows that declaration."""

import pytest

from schemas import PUBLISHED_TABLES, RAW_TABLES

ALL_TABLES = {**RAW_TABLES, **PUBLISHED_TABLES}


@pytest.mark.parametrize("name", list(ALL_TABLES))
def test_derived_schemas_list_the_declared_columns_in_order(name):
    table = ALL_TABLES[name]
    declared = table.column_names
    assert [f["name"] for f in table.frictionless_schema()["fields"]] == declared
    assert list(table.pandera_schema().columns) == declared
    assert [c.name for c in table.dagster_table_schema().columns] == declared


@pytest.mark.parametrize("name", list(PUBLISHED_TABLES))
def test_every_published_column_is_described(name):
    for column in PUBLISHED_TABLES[name].columns:
        assert len(column.description) >= 10, (name, column.name)


@pytest.mark.parametrize("name", list(PUBLISHED_TABLES))
def test_published_tables_have_keys_and_a_source(name):
    table = PUBLISHED_TABLES[name]
    assert table.primary_key
    # A row names its source, or (a panel) each value does, through a foreign key to sources.
    named = {c for fk in table.foreign_keys if fk.table == "sources" for c in fk.columns}
    assert "source_id" in table.column_names or (named and all(c.endswith("source_id") for c in named))
    earlier = list(PUBLISHED_TABLES)[: list(PUBLISHED_TABLES).index(name)]
    for fk in table.foreign_keys:
        assert fk.table in earlier, f"{name} refers to {fk.table}, which is not declared before it"


def test_constraints_agree_between_pandera_and_frictionless():
    table = PUBLISHED_TABLES["funding_reports"]
    fields = {f["name"]: f for f in table.frictionless_schema()["fields"]}
    assert fields["amount_gbp"]["constraints"] == {"required": True, "minimum": 0}
    assert fields["amount_gbp"]["unit"] == "GBP"
    column = table.pandera_schema().columns["amount_gbp"]
    assert not column.nullable
    assert [str(c) for c in column.checks] == ["<Check greater_than_or_equal_to: greater_than_or_equal_to(0)>"]


def test_every_published_table_says_what_one_row_is():
    """The dataset card's table list comes from the declarations: a new table cannot be published without it."""
    assert all(table.one_row_per for table in PUBLISHED_TABLES.values())


def raw_csv_tables():
    """Every raw table read from a CSV file, with its manifest entry: the declared ones and the edition layouts."""
    from pipeline.defs.resources import PROJECT_DIR
    from pipeline.sources.manifest import load_manifest
    from schemas.raw import layout_tables

    manifest = load_manifest(PROJECT_DIR / "raw")
    tables = [*RAW_TABLES.values(), *layout_tables(manifest.files.values())]
    entries = [(t, manifest.file(t.file_id)) for t in tables]
    workbooks = ("ons_pfa_workbook", "ons_mye_workbook")
    return manifest, [(t, e) for t, e in entries if e.table_layout not in workbooks]


def test_a_raw_value_with_junk_before_or_after_what_its_pattern_allows_is_refused():
    """Patterns hold for the whole cell, as frictionless reads them: every patterned column of every raw CSV, read
    as the raw step reads it, passes as published and fails, naming its file, row and column, once a real value
    gets a character before or after it."""
    from pipeline.sources.csvfile import read_raw_csv
    from pipeline.validation import validate

    manifest, tables = raw_csv_tables()
    tried = 0
    for table, entry in tables:
        header_row = entry.table_options.get("header_row", 1)
        frame = read_raw_csv(manifest.raw_dir / entry.path, header_row)
        label = f"raw/{entry.path}"
        assert validate(frame, table, label, raw=True, header_row=header_row) == [], label
        for column in (c for c in table.columns if c.pattern and c.name in frame):
            filled = frame[column.name].dropna()
            if filled.empty:
                continue
            index = filled.index[0]
            for junk in (f"{filled.iloc[0]}x", f"x{filled.iloc[0]}"):
                broken = frame.copy()
                broken.loc[index, column.name] = junk
                [failure] = validate(broken, table, label, raw=True, header_row=header_row)
                assert (failure.file, failure.column, failure.value) == (label, column.name, junk)
                assert failure.row == index + header_row + 1
            tried += 1
    assert tried >= 10, tried
