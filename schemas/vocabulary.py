"""The project's vocabularies, each written once: financial years ('2019-20' is April 2019 to March 2020),
funding streams and components, kinds of printed amount, verdicts on claims. Raw and published schemas and
the pipeline read them from here."""


def financial_year(start: int) -> str:
    """'2019-20' for the year starting April 2019."""
    return f"{start}-{(start + 1) % 100:02d}"


# Funding: the years the sources cover, 2019-20 (the first VRU allocations) to 2025-26. A multi-year figure
# may end one year later, so published year columns allow 2026-27 too.
FUNDING_FIRST_YEAR, FUNDING_LAST_YEAR = 2019, 2025
FUNDING_YEARS = tuple(financial_year(y) for y in range(FUNDING_FIRST_YEAR, FUNDING_LAST_YEAR + 2))
# Outcomes: the ONS series run from 2010-11 (the knife series) to the latest three-year period.
OUTCOME_YEARS = tuple(financial_year(y) for y in range(2010, 2027))

# Funding streams a figure is chosen for (allocations), and the labels a report may also carry.
STREAMS = ("vru", "surge_grip", "hotspot_fund", "svd")
REPORT_STREAMS = (*STREAMS, "combined", "other")
COMPONENTS = ("total", "labour", "non_labour", "first_tranche", "additional")
AMOUNT_KINDS = ("exact", "rounded", "upper_bound", "lower_bound")
VERDICTS = ("supported", "supported_with_caveats", "misstated", "not_supported")
# Outcome comparisons: areas grouped by the year their VRU was first funded, and each figure computed with every
# value and without the values a plausibility rule flagged.
AREA_GROUPS = ("vru_from_2019-20", "vru_from_2022-23", "no_vru")
VARIANTS = ("all_values", "excluding_flagged")
