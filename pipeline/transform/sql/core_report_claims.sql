-- The APCC headline claims with this project's verdict against their primary sources.
CREATE OR REPLACE TABLE core.report_claims AS
SELECT c.claim_id, c.section, c.claim_as_stated, v.verdict, v.primary_source_says, $source_id AS source_id
FROM raw.reference__report_claims AS c
LEFT JOIN raw.project__report_claim_verdicts AS v USING (claim_id)
