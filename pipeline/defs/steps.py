"""Many assets computed in one step: each keeps its key, description, metadata, lineage and checks.

Dagster spends ~0.1-0.3 s of bookkeeping on every step (events, context, the step's own log), more than the SQL
of most core tables takes. `one_step` turns assets written one function each (`@dg.asset`, easy to read and to
test) into one `multi_asset` that runs their functions in dependency order: the asset graph, the asset pages and
the checks an auditor sees are the same, and a subset still runs (materialising one asset runs that function
alone, with what it reads already in the warehouse).

Inside one step Dagster would only act on a failed blocking check when the step ends, after the assets that
read the checked one had run on it; here the step stops at the first asset whose blocking check fails, and
Dagster then fails the step with its usual message, naming the asset and the check.
"""

import inspect
from collections.abc import Callable, Iterator

import dagster as dg

# (step name, asset key) -> the function that computes the asset: its source is the asset's code version.
_FUNCTIONS: dict[tuple[str, str], Callable] = {}


def compute_function(asset: dg.AssetsDefinition, key: str) -> Callable:
    """The function that computes asset `key` of `asset`, whether its own step or a share of one."""
    return _FUNCTIONS.get((asset.op.name, key), asset.op.compute_fn.decorated_fn)  # type: ignore[union-attr]


def one_step(name: str, assets: list[dg.AssetsDefinition]) -> dg.AssetsDefinition:
    """One step computing every asset of `assets` (single-asset definitions), in the order of their dependencies
    and, among the ready ones, of the list."""
    functions = {a.key: a.op.compute_fn.decorated_fn for a in assets}  # type: ignore[union-attr]
    for key, function in functions.items():
        _FUNCTIONS[(name, key.to_user_string())] = function
    specs = [spec.replace_attributes(skippable=True) for a in assets for spec in a.specs]
    check_specs = [check for a in assets for check in a.check_specs]
    blocking = {(c.asset_key, c.name) for c in check_specs if c.blocking}
    resources = {r for a in assets for r in a.required_resource_keys} - {"io_manager"}
    order = dependency_order(specs)

    @dg.multi_asset(
        name=name,
        specs=specs,
        check_specs=check_specs,
        can_subset=True,
        required_resource_keys=resources,
    )
    def _step(context: dg.AssetExecutionContext):
        selected = context.selected_asset_keys
        for key in [k for k in order if k in selected]:
            failed = False
            for result in results_of(functions[key], key, context):
                if isinstance(result, dg.AssetCheckResult):
                    failed |= not result.passed and (key, result.check_name) in blocking
                else:
                    failed |= any(not c.passed and (key, c.check_name) in blocking for c in result.check_results)
                yield result
            if failed:
                context.log.error(f"{key.to_user_string()}: a blocking check failed; nothing that reads it runs")
                return

    return _step


def results_of(function: Callable, key: dg.AssetKey, context: dg.AssetExecutionContext) -> Iterator:
    """Call an asset's function with the context and resources it names, and give its results this asset's key."""
    arguments = {
        parameter: context if parameter == "context" else getattr(context.resources, parameter)
        for parameter in inspect.signature(function).parameters
    }
    returned = function(**arguments)
    for result in returned if inspect.isgenerator(returned) else [returned]:
        if isinstance(result, dg.AssetCheckResult):
            yield result._replace(asset_key=key)
        elif isinstance(result, dg.MaterializeResult):
            yield dg.MaterializeResult(
                asset_key=key,
                metadata=result.metadata,
                check_results=[c._replace(asset_key=key) for c in result.check_results],
                data_version=result.data_version,
                tags=result.tags,
            )
        else:
            raise TypeError(f"{key.to_user_string()}: unexpected result {result!r}")


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
