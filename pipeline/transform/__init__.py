"""From raw tables to the published tables' content, in the DuckDB warehouse: parsing printed wording (parsing.py),
funding reports and allocations (funding.py), the SQL of every core table (sql/) and the plausibility rules run on
them (plausibility.py, sql/checks/)."""
