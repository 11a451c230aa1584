-- Youth Endowment Fund Toolkit approaches with their estimated impact band (the first band named, coded).
CREATE OR REPLACE TABLE core.evidence_approaches AS
SELECT regexp_replace(lower(approach), '[^a-z0-9]+', '-', 'g') AS approach_id, approach,
       CASE
           WHEN yef_estimated_impact_band LIKE 'NO CLEAR EVIDENCE%' THEN 'no_clear_evidence'
           ELSE lower(regexp_extract(yef_estimated_impact_band, '^(HIGH|MODERATE|LOW)'))
       END AS impact_band,
       yef_estimated_impact_band AS impact_band_as_published, impact_band_definition,
       impact_figures_as_published, evidence_quality_as_published, source_urls, notes, core.cited_source(source_urls) AS source_id
FROM raw.reference__evidence_ratings
