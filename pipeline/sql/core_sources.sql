-- Every public document in the manifest, one row each.
CREATE OR REPLACE TABLE core.sources AS
SELECT source_id, title, publisher, url, CAST(NULLIF(date_published, '') AS DATE) AS date_published,
       licence, kind, NULLIF(notes, '') AS notes
FROM raw.manifest_sources
