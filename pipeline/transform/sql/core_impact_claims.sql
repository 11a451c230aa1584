-- Published national impact figures, one row per claim, values and dates as published.
CREATE OR REPLACE TABLE core.impact_claims AS
SELECT claim_id, claim, metric, value AS value_transcribed, unit, period, geography, publisher,
       date AS date_as_published, source_url AS source_urls, notes, core.cited_source(source_url) AS source_id
FROM raw.reference__impact_claims
