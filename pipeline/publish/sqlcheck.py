"""Only the SQL quoting helpers, for pipeline/transform/funding.py, which imports them from here: they live in
pipeline/transform/warehouse.py. The SQL row checks that were here are gone: the out layer validates every table with
pandera at any size and frictionless validates the package (pipeline/publish/package.py). Delete this module once
funding.py imports from warehouse.py."""

from pipeline.transform.warehouse import literal, quoted

__all__ = ["literal", "quoted"]
