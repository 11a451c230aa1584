-- The 43 territorial areas; the file's British Transport Police note row has no code and is left out.
CREATE OR REPLACE TABLE core.police_force_areas AS
SELECT pfa_code AS area_code, pfa_name_ons AS area_name, force_name, country,
       $source_id AS source_id, _row AS raw_row
FROM raw.reference__police_force_areas
WHERE pfa_code IS NOT NULL
