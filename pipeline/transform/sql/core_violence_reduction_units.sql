-- One row per VRU, keyed by its area; '2019/20' becomes '2019-20'.
CREATE OR REPLACE TABLE core.violence_reduction_units AS
SELECT 'VRU_' || pfa_code AS vru_id, pfa_code AS area_code, vru_name_current AS vru_name,
       vru_name_other AS vru_names_other, lead_or_host_body,
       replace(first_funded_fy, '/', '-') AS first_funded_year, established_as_published,
       source_urls, notes, core.cited_source(source_urls) AS source_id, _row AS raw_row
FROM raw.reference__violence_reduction_units
