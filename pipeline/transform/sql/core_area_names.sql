-- Every accepted spelling of an area: ONS names, force names, and the spellings sources print.
-- A spelling that covers several areas ("Wales", "South East (...)") has no code: a region.
CREATE OR REPLACE TABLE core.area_names AS
SELECT area_name AS area_as_published, area_code, 'ons_name' AS name_kind, NULL AS notes, source_id
FROM core.police_force_areas
UNION ALL
SELECT force_name, area_code, 'force_name', NULL, source_id
FROM core.police_force_areas
UNION ALL
SELECT area_as_published, area_code, CASE WHEN area_code IS NULL THEN 'region' ELSE 'alias' END, notes,
       $alias_source_id
FROM raw.project__area_names
