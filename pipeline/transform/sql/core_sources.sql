-- Every public document in the manifest, one row each, with the authority of its kind and how it was
-- last checked. core.source_urls maps every address a document was read at (url, and archive_url for a
-- mirror or staging copy) to its source, so that a reference row can cite the document at its first URL.
CREATE OR REPLACE TABLE core.sources AS
SELECT s.source_id, s.title, s.publisher, s.url, NULLIF(s.archive_url, '') AS archive_url,
       NULLIF(s.url_note, '') AS url_note,
       CAST(NULLIF(s.date_published, '') AS DATE) AS date_published,
       NULLIF(s.date_as_stated, '') AS date_as_stated, s.licence, s.kind,
       CAST(k.authority_rank AS INTEGER) AS authority_rank,
       s.verification, CAST(NULLIF(s.checked_on, '') AS DATE) AS checked_on, NULLIF(s.check_method, '') AS check_method,
       NULLIF(s.notes, '') AS notes
FROM raw.manifest_sources AS s
LEFT JOIN raw.project__source_kinds AS k USING (kind);

-- Compilations are this project's tables, not documents a row can cite.
CREATE OR REPLACE TABLE core.source_urls AS
SELECT url, source_id FROM core.sources WHERE kind <> 'compilation'
UNION
SELECT archive_url, source_id FROM core.sources WHERE archive_url IS NOT NULL;

-- The source of the first of a row's URLs (separated by ';'); NULL when the manifest does not list it.
CREATE OR REPLACE MACRO core.cited_source(urls) AS (
    SELECT min(source_id) FROM core.source_urls WHERE url = trim(split_part(urls, ';', 1))
);
