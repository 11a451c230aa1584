"""How the pipeline's assets are written and grouped into Dagster steps, with Dagster's public API only.

An asset is written as a `Step`: its `AssetSpec`, its check specs and the plain function that computes it (called
with the resources its parameters name, plus `context` if it asks for one). `@step(...)` makes one from a function,
the way `@dg.asset` would, and the function stays testable on its own.

Each layer (raw, core, out, package) is then one `layer(...)`: a `multi_asset` that runs its steps in dependency
order. Dagster spends ~0.1-0.3 s of bookkeeping on every step, more than the SQL of most tables takes, so a layer is
one step; the asset pages, lineage, code versions and checks an auditor sees are still one per asset, and a subset
runs (materialising one asset runs that function alone, with what it reads already in the warehouse).

Blocking checks: inside one step Dagster acts on a failed blocking check only when the step ends, so `layer` does
it as it goes: an asset whose blocking check failed stops every asset of the layer that depends on it (directly or
not), the others still run, and Dagster then fails the step, naming the check, so nothing in a later layer runs.
This is the one way assets are grouped, in every layer.
"""

import inspect
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

import dagster as dg

OWNERS = ["team:data"]


@dataclass(frozen=True)
class Step:
    """One asset: what Dagster shows of it (spec and checks) and the function that computes it."""

    spec: dg.AssetSpec
    checks: tuple[dg.AssetCheckSpec, ...]
    compute: Callable

    @property
    def key(self) -> dg.AssetKey:
        return self.spec.key

    @property
    def resource_keys(self) -> set[str]:
        return set(inspect.signature(self.compute).parameters) - {"context"}


def step(
    name: str | None = None,
    *,
    group: str,
    deps: Iterable[str | dg.AssetKey] = (),
    kinds: set[str] | None = None,
    check_specs: Iterable[dg.AssetCheckSpec] = (),
    description: str | None = None,
    metadata: dict | None = None,
    freshness_policy: dg.FreshnessPolicy | None = None,
) -> Callable[[Callable], Step]:
    """`@step(...)` over a function: a Step named after the function (or `name`), described by its docstring."""

    def wrap(function: Callable) -> Step:
        spec = dg.AssetSpec(
            name or function.__name__,
            group_name=group,
            owners=OWNERS,
            kinds=kinds,
            deps=list(deps),
            description=description or inspect.cleandoc(function.__doc__ or ""),
            metadata=metadata,
            freshness_policy=freshness_policy,
            skippable=True,
        )
        return Step(spec, tuple(check_specs), function)

    return wrap


def layer(name: str, steps: list[Step]) -> dg.AssetsDefinition:
    """One Dagster step computing `steps` in the order of their dependencies (ties: the order given)."""
    by_key = {s.key: s for s in steps}
    order = dependency_order([s.spec for s in steps])
    blocking = {(c.asset_key, c.name) for s in steps for c in s.checks if c.blocking}

    @dg.multi_asset(
        name=name,
        specs=[s.spec for s in steps],
        check_specs=[c for s in steps for c in s.checks],
        can_subset=True,
        required_resource_keys=set().union(*(s.resource_keys for s in steps)),
    )
    def _layer(context: dg.AssetExecutionContext):
        stopped: set[dg.AssetKey] = set()
        for key in [k for k in order if k in context.selected_asset_keys]:
            upstream = {dep.asset_key for dep in by_key[key].spec.deps} & stopped
            if upstream:
                stopped.add(key)
                names = ", ".join(sorted(k.to_user_string() for k in upstream))
                context.log.warning(f"{key.to_user_string()} not computed: a blocking check of {names} failed")
                continue
            for result in results_of(by_key[key], context):
                if any(not c.passed and (key, c.check_name) in blocking for c in checks_in(result)):
                    stopped.add(key)
                yield result
            if key in stopped:
                context.log.error(f"{key.to_user_string()}: a blocking check failed; nothing that reads it runs")

    return _layer


def checks_in(result: dg.MaterializeResult | dg.AssetCheckResult) -> list[dg.AssetCheckResult]:
    return [result] if isinstance(result, dg.AssetCheckResult) else list(result.check_results or [])


def results_of(step: Step, context: dg.AssetExecutionContext) -> Iterator:
    """Call a step's function with the context and resources it names; its results carry the step's key."""
    arguments = {
        parameter: context if parameter == "context" else getattr(context.resources, parameter)
        for parameter in inspect.signature(step.compute).parameters
    }
    returned = step.compute(**arguments)
    for result in returned if inspect.isgenerator(returned) else [returned]:
        if isinstance(result, dg.AssetCheckResult):
            yield keyed_check(result, step.key)
        elif isinstance(result, dg.MaterializeResult):
            yield dg.MaterializeResult(
                asset_key=step.key,
                metadata=result.metadata,
                check_results=[keyed_check(c, step.key) for c in result.check_results or []],
                data_version=result.data_version,
                tags=result.tags,
            )
        else:
            raise TypeError(f"{step.key.to_user_string()}: unexpected result {result!r}")


def keyed_check(check: dg.AssetCheckResult, key: dg.AssetKey) -> dg.AssetCheckResult:
    return dg.AssetCheckResult(
        asset_key=key,
        check_name=check.check_name,
        passed=check.passed,
        metadata=check.metadata,
        severity=check.severity,
        description=check.description,
    )


def dependency_order(specs: list[dg.AssetSpec]) -> list[dg.AssetKey]:
    """The specs' keys so that each comes after those it depends on; ties in the order given."""
    keys = [spec.key for spec in specs]
    needs = {spec.key: {dep.asset_key for dep in spec.deps} & set(keys) for spec in specs}
    order: list[dg.AssetKey] = []
    while len(order) < len(keys):
        ready = next((k for k in keys if k not in order and needs[k] <= set(order)), None)
        if ready is None:
            raise ValueError(f"a cycle among {sorted(k.to_user_string() for k in set(keys) - set(order))}")
        order.append(ready)
    return order
