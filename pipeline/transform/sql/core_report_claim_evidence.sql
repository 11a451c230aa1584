-- Which impact claims each verdict rests on: one row per pair, so each reference is a checkable key.
CREATE OR REPLACE TABLE core.report_claim_evidence AS
SELECT claim_id, unnest(string_split(evidence_claim_ids, ' ')) AS impact_claim_id, $source_id AS source_id
FROM raw.project__report_claim_verdicts
