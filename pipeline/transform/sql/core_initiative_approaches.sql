-- Initiatives linked to the Toolkit approaches they use (this project's matches, full / partial / indirect).
CREATE OR REPLACE TABLE core.initiative_approaches AS
SELECT l.initiative_id, a.approach_id, l.match, l.notes, $source_id AS source_id
FROM raw.project__initiative_approaches AS l
LEFT JOIN core.evidence_approaches AS a USING (approach)
