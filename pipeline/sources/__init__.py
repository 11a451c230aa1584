"""Where data comes from and how it is read as published: the manifest of raw/ (sources.yaml) and its tool,
and the readers of workbooks and CSVs. Nothing here transforms a value."""
