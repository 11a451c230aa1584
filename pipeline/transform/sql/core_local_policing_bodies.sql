-- The body that holds each force to account (PCC, PFCC, mayor or police authority), as the compilation records it.
CREATE OR REPLACE TABLE core.local_policing_bodies AS
SELECT pfa_code AS area_code, local_policing_body_type AS body_type, local_policing_body_name AS body_name,
       body_name_basis, body_type_since AS since_as_published, body_source_url AS source_url,
       $source_id AS source_id
FROM raw.reference__police_force_areas
WHERE pfa_code IS NOT NULL
