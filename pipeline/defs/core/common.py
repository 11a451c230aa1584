"""What the core assets share: their group, owners and kinds, and the decorator of a core asset whose table is
computed by the SQL file named after it."""

from collections.abc import Callable

import dagster as dg

from pipeline import plausibility
from pipeline.defs.raw import OWNERS
from pipeline.warehouse import sql_deps

GROUP = "core"
KINDS = {"duckdb", "sql"}


def sql_core_asset(name: str) -> Callable:
    """`@asset` for `name`, computed by pipeline/sql/<name>.sql: it depends on what that SQL reads, and the
    plausibility rules declared for it are its checks."""
    return dg.asset(
        name=name,
        group_name=GROUP,
        owners=OWNERS,
        kinds=KINDS,
        deps=sql_deps(name),
        check_specs=plausibility.check_specs(name),
    )
