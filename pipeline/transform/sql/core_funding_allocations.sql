-- One figure per area, stream and single financial year, chosen by source authority (pipeline/transform/funding.py says
-- the rule in words; tests/test_funding.py and tests/test_trust.py hold it to them).
-- Only whole-allocation, single-year, single-area reports of the four streams are candidates. Order of preference:
-- the more authoritative kind of source; then exact over rounded over a bound; then the more precise wording (the
-- narrower range it allows: "£2.58 million" over "£2m"); then the lower source id compared as a number (S14
-- before S113); then the report id. Amounts are compared as numbers throughout, never as text.
-- Bounds have their own rule: a bound that a more authoritative report contradicts is set aside; when the cell's
-- best report is a bound and the remaining lower and upper bounds meet at one amount, they pin the figure
-- (bounds_combined). A floor a source states for every area (component 'minimum', "no VRU receives less than
-- £880,000") is never a cell's figure, but it takes part in both the pinning and the conflict test.
-- chosen_because names the step of that order that decided.
CREATE OR REPLACE TABLE core.funding_allocations AS
WITH reports AS (
    SELECT
        *,
        CAST(amount_gbp AS DECIMAL(18, 2)) AS amount,
        -- An unknown authority sorts last.
        coalesce(authority_rank, 9223372036854775807) AS authority,
        CASE amount_kind WHEN 'exact' THEN 0 WHEN 'rounded' THEN 1 WHEN 'lower_bound' THEN 2 WHEN 'upper_bound' THEN 3
        END AS kind_order,
        -- A bound has no upper end: the least precise of all.
        coalesce(CAST(amount_high AS DOUBLE) - CAST(amount_low AS DOUBLE), 'infinity'::DOUBLE) AS imprecision,
        CAST(amount_low AS DOUBLE) AS low,
        coalesce(CAST(amount_high AS DOUBLE), 'infinity'::DOUBLE) AS high,
        regexp_full_match(source_id, '[A-Z_]*[0-9]+') AS numbered
    FROM core.funding_reports
    WHERE area_code IS NOT NULL
      AND list_contains($streams, stream)  -- schemas/vocabulary.py STREAMS
      AND component IN ('total', 'minimum')
      AND financial_year IS NOT NULL
      AND financial_year = financial_year_last
),
ordered AS (
    SELECT
        *,
        {'authority': authority, 'kind': kind_order, 'imprecision': imprecision,
         'prefix': CASE WHEN numbered THEN regexp_extract(source_id, '^[A-Z_]*') ELSE source_id END,
         'number': CASE WHEN numbered THEN CAST(regexp_extract(source_id, '[0-9]+$') AS HUGEINT) ELSE 0 END,
         'rest': CASE WHEN numbered THEN '' ELSE source_id END,
         'report': report_id} AS preference
    FROM reports
),
-- The candidates of each cell, best first (a floor is no candidate).
ranked AS (
    SELECT *, row_number() OVER (PARTITION BY area_code, stream, financial_year ORDER BY preference) AS place
    FROM ordered
    WHERE component = 'total'
),
-- Bounds a more authoritative report of the cell contradicts (their ranges do not meet): set aside.
bounds AS (
    SELECT b.*
    FROM ordered AS b
    WHERE b.amount_kind IN ('lower_bound', 'upper_bound')
      AND NOT EXISTS (
          SELECT 1 FROM reports AS o
          WHERE o.area_code = b.area_code AND o.stream = b.stream AND o.financial_year = b.financial_year
            AND o.authority < b.authority AND (o.low > b.high OR b.low > o.high)
      )
),
-- Where the kept bounds meet at one amount, the report (a candidate) that states it, best first.
pinned AS (
    SELECT area_code, stream, financial_year, arg_min(b, b.preference) FILTER (
        WHERE b.component = 'total' AND ((b.amount_kind = 'upper_bound' AND b.high = m.floor)
                                        OR (b.amount_kind = 'lower_bound' AND b.low = m.ceiling))) AS pin,
           any_value(m.floor) AS amount
    FROM bounds AS b
    JOIN (
        SELECT area_code, stream, financial_year,
               max(low) FILTER (WHERE amount_kind = 'lower_bound') AS floor,
               min(high) FILTER (WHERE amount_kind = 'upper_bound') AS ceiling
        FROM bounds GROUP BY ALL
    ) AS m USING (area_code, stream, financial_year)
    WHERE m.floor = m.ceiling
    GROUP BY ALL
),
cells AS (
    SELECT
        area_code,
        stream,
        financial_year,
        any_value(r) FILTER (WHERE place = 1) AS first,
        any_value(r) FILTER (WHERE place = 2) AS second,
        count(*) AS n_reports,
        count(DISTINCT source_id) AS n_sources,
        min(amount) AS min_reported_gbp,
        max(amount) AS max_reported_gbp
    FROM ranked AS r
    GROUP BY area_code, stream, financial_year
),
-- Every report of the cell, floors included: ranges meet unless the largest lower end lies above the smallest upper
-- end (bounds have no upper end).
conflicts AS (
    SELECT area_code, stream, financial_year, max(low) > min(high) AS has_conflict FROM reports GROUP BY ALL
),
decided AS (
    SELECT
        c.*,
        k.has_conflict,
        p.pin IS NOT NULL AND c.first.amount_kind IN ('lower_bound', 'upper_bound') AS is_pinned,
        p.pin,
        p.amount AS pinned_amount
    FROM cells AS c
    JOIN conflicts AS k USING (area_code, stream, financial_year)
    LEFT JOIN pinned AS p USING (area_code, stream, financial_year)
),
chosen AS (
    SELECT
        *,
        CASE WHEN is_pinned THEN pin ELSE first END AS choice,
        CASE
            WHEN is_pinned THEN 'bounds_combined'
            WHEN second IS NULL THEN 'only_report'
            WHEN first.authority <> second.authority THEN 'authority'
            WHEN first.kind_order <> second.kind_order THEN 'exactness'
            WHEN first.imprecision <> second.imprecision THEN 'precision'
            ELSE 'id_order'
        END AS chosen_because
    FROM decided
)
SELECT
    area_code,
    stream,
    financial_year,
    CASE WHEN is_pinned THEN CAST(pinned_amount AS DECIMAL(18, 2)) ELSE choice.amount END AS amount_gbp,
    CASE WHEN is_pinned THEN 'exact' ELSE choice.amount_kind END AS amount_kind,
    choice.amount_as_published,
    CAST(choice.is_year_inferred AS BOOLEAN) AS is_year_inferred,
    choice.source_id,
    choice.report_id,
    chosen_because,
    n_reports,
    n_sources,
    has_conflict,
    min_reported_gbp,
    max_reported_gbp,
    {{ superseded_because("stream", "financial_year") }} AS superseded_because
FROM chosen
ORDER BY area_code, stream, financial_year
