-- One figure per area, stream and single financial year, chosen by source authority (pipeline/funding.py says
-- the rule in words; tests/test_funding.py and tests/test_trust.py hold it to them).
-- Only whole-allocation, single-year, single-area reports of the four streams count. Order of preference: the
-- more authoritative kind of source; then exact over rounded over a bound; then the more precise wording (the
-- narrower range it allows: "£2.58 million" over "£2m"); then the lower source id compared as a number (S14
-- before S113); then the report id. Amounts are compared as numbers throughout, never as text.
CREATE OR REPLACE TABLE core.funding_allocations AS
WITH cells AS (
    SELECT
        *,
        CAST(amount_gbp AS DECIMAL(18, 2)) AS amount,
        CASE amount_kind WHEN 'exact' THEN 0 WHEN 'rounded' THEN 1 WHEN 'lower_bound' THEN 2 WHEN 'upper_bound' THEN 3
        END AS kind_order,
        -- A bound has no upper end: the least precise of all.
        coalesce(CAST(amount_high AS DOUBLE) - CAST(amount_low AS DOUBLE), 'infinity'::DOUBLE) AS imprecision,
        regexp_full_match(source_id, '[A-Z_]*[0-9]+') AS numbered
    FROM core.funding_reports
    WHERE area_code IS NOT NULL
      AND list_contains($streams, stream)  -- schemas/vocabulary.py STREAMS
      AND component = 'total'
      AND financial_year IS NOT NULL
      AND financial_year = financial_year_last
),
ranked AS (
    SELECT
        *,
        row_number() OVER (
            PARTITION BY area_code, stream, financial_year
            ORDER BY
                authority_rank NULLS LAST,
                kind_order,
                imprecision,
                CASE WHEN numbered THEN regexp_extract(source_id, '^[A-Z_]*') ELSE source_id END,
                CASE WHEN numbered THEN CAST(regexp_extract(source_id, '[0-9]+$') AS HUGEINT) ELSE 0 END,
                CASE WHEN numbered THEN '' ELSE source_id END,
                report_id
        ) AS preference
    FROM cells
),
stats AS (
    SELECT
        area_code,
        stream,
        financial_year,
        count(*) AS n_reports,
        count(DISTINCT source_id) AS n_sources,
        -- Ranges meet unless the largest lower end lies above the smallest upper end (bounds have no upper end).
        coalesce(max(CAST(amount_low AS DOUBLE)) > min(CAST(amount_high AS DOUBLE)), false) AS has_conflict,
        min(amount) AS min_reported_gbp,
        max(amount) AS max_reported_gbp
    FROM cells
    GROUP BY area_code, stream, financial_year
)
SELECT
    r.area_code,
    r.stream,
    r.financial_year,
    r.amount AS amount_gbp,
    r.amount_kind,
    r.amount_as_published,
    CAST(r.is_year_inferred AS BOOLEAN) AS is_year_inferred,
    r.source_id,
    r.report_id,
    s.n_reports,
    s.n_sources,
    s.has_conflict,
    s.min_reported_gbp,
    s.max_reported_gbp
FROM ranked AS r
JOIN stats AS s USING (area_code, stream, financial_year)
WHERE r.preference = 1
ORDER BY r.area_code, r.stream, r.financial_year
