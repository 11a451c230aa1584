-- The case studies with the compiler's columns renamed; ids and start years are added in Python.
SELECT initiative AS initiative_name, pfa_code AS area_code, lead_body, delivery_partners,
       year_started AS start_as_published, target_group, approach, delivery_setting,
       outcome_figures_as_published, outcome_period, outcome_source AS outcome_source_urls,
       source_urls, notes, core.cited_source(source_urls) AS source_id, _row AS raw_row
FROM raw.reference__initiatives
