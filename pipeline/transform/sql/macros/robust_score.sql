-- The outlier method of the plausibility rules, written once: a value's distance from the median of its peers in
-- robust deviations, the median absolute deviation scaled by {{ robust_scale }} (for normally distributed values, one
-- standard deviation). A rule computes `centre` (robust_centre over the peers) and `spread` (robust_spread over the peers), then
-- flags a value when robust_outlier holds; the expected range is robust_low to robust_high. Temporary: made on each
-- connection that runs a rule (pipeline/transform/plausibility.py), never stored in the warehouse.
CREATE OR REPLACE TEMP MACRO robust_centre(x) AS median(x);
CREATE OR REPLACE TEMP MACRO robust_spread(x, centre) AS {{ robust_scale }} * median(abs(x - centre));
CREATE OR REPLACE TEMP MACRO robust_z(x, centre, spread) AS (x - centre) / spread;
CREATE OR REPLACE TEMP MACRO robust_outlier(x, centre, spread, max_z) AS spread > 0 AND abs(x - centre) > max_z * spread;
CREATE OR REPLACE TEMP MACRO robust_low(centre, spread, max_z) AS centre - max_z * spread;
CREATE OR REPLACE TEMP MACRO robust_high(centre, spread, max_z) AS centre + max_z * spread;
