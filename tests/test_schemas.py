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
