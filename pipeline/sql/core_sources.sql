-- Every public document in the manifest, one row each, with the authority of its kind.
CREATE OR REPLACE TABLE core.sources AS
SELECT s.source_id, s.title, s.publisher, s.url, CAST(NULLIF(s.date_published, '') AS DATE) AS date_published,
       NULLIF(s.date_as_stated, '') AS date_as_stated, s.licence, s.kind,
       CAST(k.authority_rank AS INTEGER) AS authority_rank, NULLIF(s.notes, '') AS notes
FROM raw.manifest_sources AS s
LEFT JOIN raw.project__source_kinds AS k USING (kind)
