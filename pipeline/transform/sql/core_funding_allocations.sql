-- One figure per area, stream and single financial year, chosen by source authority (pipeline/transform/funding.py says
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
-- One pass over the reports: per cell, the report that comes first in that order (arg_min over the order as a
-- struct, compared field by field; an unknown authority sorts last), and what all its reports say together.
cells_chosen AS (
    SELECT
        area_code,
        stream,
        financial_year,
        arg_min(
            {'amount': amount, 'kind': amount_kind, 'printed': amount_as_published, 'inferred': is_year_inferred,
             'source': source_id, 'report': report_id},
            {'authority': coalesce(authority_rank, 9223372036854775807), 'kind': kind_order, 'imprecision': imprecision,
             'prefix': CASE WHEN numbered THEN regexp_extract(source_id, '^[A-Z_]*') ELSE source_id END,
             'number': CASE WHEN numbered THEN CAST(regexp_extract(source_id, '[0-9]+$') AS HUGEINT) ELSE 0 END,
             'rest': CASE WHEN numbered THEN '' ELSE source_id END,
             'report': report_id}
        ) AS chosen,
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
    area_code,
    stream,
    financial_year,
    chosen.amount AS amount_gbp,
    chosen.kind AS amount_kind,
    chosen.printed AS amount_as_published,
    CAST(chosen.inferred AS BOOLEAN) AS is_year_inferred,
    chosen.source AS source_id,
    chosen.report AS report_id,
    n_reports,
    n_sources,
    has_conflict,
    min_reported_gbp,
    max_reported_gbp
FROM cells_chosen
ORDER BY area_code, stream, financial_year
