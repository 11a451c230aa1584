-- Youth Endowment Fund Toolkit approaches with their estimated impact band (the first band named, coded).
-- YEF's pages are under its copyright: the transcription's few direct quotations of YEF wording (in double
-- quotes) are not republished; the facts they carried (the band, the strength of the evidence) are.
CREATE OR REPLACE TABLE core.evidence_approaches AS
SELECT regexp_replace(lower(approach), '[^a-z0-9]+', '-', 'g') AS approach_id, approach,
       CASE
           WHEN yef_estimated_impact_band LIKE 'NO CLEAR EVIDENCE%' THEN 'no_clear_evidence'
           ELSE lower(regexp_extract(yef_estimated_impact_band, '^(HIGH|MODERATE|LOW)'))
       END AS impact_band,
       -- 'HIGH (described as "..." / "...")' -> 'HIGH'
       trim(regexp_replace(yef_estimated_impact_band, '\s*\(described as [^)]*\)', '')) AS impact_band_as_published,
       impact_band_definition,
       -- '"High" average impact on ...' -> 'Average impact on ... rated high'
       regexp_replace(impact_figures_as_published, '^"High" average impact on (.*)$', 'Average impact on \1 rated high')
           AS impact_figures_summary,
       -- '...; "severely limited" evidence' -> '...; YEF finds the evidence very limited'
       regexp_replace(evidence_quality_as_published, ';\s*"severely limited" evidence$',
                      '; YEF finds the evidence very limited') AS evidence_quality_summary,
       source_urls, notes, core.cited_source(source_urls) AS source_id
FROM raw.reference__evidence_ratings
