"""The Dagster definitions, loaded by pipeline/definitions.py with dg.load_from_defs_folder: assets by layer (raw.py,
core/, out.py, package.py, grouped by steps.py), resources, the publish job with its schedule and sensors
(automation.py), and project.py, which puts them together for the raw/ folder in hand."""
