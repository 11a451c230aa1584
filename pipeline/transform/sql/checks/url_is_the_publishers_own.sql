-- Source urls on a cache, mirror, staging or editing host ($hosts): a reader cannot follow them.
SELECT NULL AS area_code,
       'url' AS subject,
       NULL AS period,
       s.source_id AS edition,
       s.url AS observed,
       'the publisher''s own address (a mirror copy goes in archive_url)' AS expected,
       'host matches ' || h.pattern AS detail,
       s.source_id
FROM core.sources AS s, (SELECT unnest($hosts) AS pattern) AS h
WHERE regexp_matches(s.url, h.pattern)
