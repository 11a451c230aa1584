"""What the core assets share: their group, owners and kinds, and the decorator of a core asset whose table is
computed by the SQL file named after it."""

from collections.abc import Callable

from pipeline.defs.steps import step
from pipeline.transform import plausibility
from pipeline.transform.warehouse import sql_deps

GROUP = "core"
KINDS = {"duckdb", "sql"}


def sql_core_asset(name: str) -> Callable:
    """`@step` for `name`, computed by pipeline/transform/sql/<name>.sql: it depends on what that SQL reads, and the
    plausibility rules declared for it are its checks."""
    return step(
        name=name,
        group=GROUP,
        kinds=KINDS,
        deps=sql_deps(name),
        check_specs=plausibility.check_specs(name),
    )
