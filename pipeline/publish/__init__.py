"""Writing a version: the Frictionless package and its validation (package.py), the dataset card and data dictionary
(docs.py, templates/), charts (chart.py), the report that gathers them (report.py) and the DuckDB export."""
