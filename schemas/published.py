"""Published tables: the CSVs in outputs/data/ and their Frictionless schemas.

One row per fact, a source on every row, ONS codes as keys, gaps left as gaps (a missing figure has
no row; it is never a zero).
"""

from dataclasses import replace

from schemas.model import Column, ForeignKey, Table
from schemas.raw import PFA_CODE, PFA_HINT

FINANCIAL_YEAR = r"\d{4}-\d{2}"
SOURCE_KINDS = ("official_table", "official_answer", "pcc_vru_publication", "press", "code_list", "compilation")
STREAMS = ("vru", "surge_grip", "hotspot_fund", "svd")
AMOUNT_KINDS = ("exact", "rounded", "upper_bound", "lower_bound", "multi_year_total")

SOURCE_ID = Column(
    "source_id",
    "string",
    "Identifier of the public document this row comes from; resolves to a row of sources.",
    title="Source",
    required=True,
)
AREA_CODE = Column(
    "area_code",
    "string",
    "ONS police force area code (E23 England, W15 Wales); resolves to a row of police_force_areas.",
    title="Area code",
    required=True,
    pattern=PFA_CODE,
    pattern_hint=PFA_HINT,
)
TO_SOURCES = ForeignKey(("source_id",), "sources", ("source_id",))
TO_AREAS = ForeignKey(("area_code",), "police_force_areas", ("area_code",))

SOURCES = Table(
    name="sources",
    title="Sources",
    description="Every public document a published row cites, from the manifest raw/sources.yaml.",
    columns=(
        Column("source_id", "string", "Manifest identifier of the document.", required=True, unique=True),
        Column("title", "string", "Title of the document, or its URL slug where it has no title.", required=True),
        Column("publisher", "string", "Who published it.", required=True),
        Column("url", "string", "Where it was published.", required=True, pattern=r"https?://\S+"),
        Column("date_published", "date", "Publication date as stated by the document; blank if it states none."),
        Column("licence", "string", "Licence of the document's content (SPDX-style identifier).", required=True),
        Column("kind", "string", "Kind of document.", required=True, enum=SOURCE_KINDS),
        Column("notes", "string", "What the document contains and what was (not) seen of it."),
    ),
    primary_key=("source_id",),
)

POLICE_FORCE_AREAS = Table(
    name="police_force_areas",
    title="Police force areas",
    description=(
        "The 43 territorial police force areas of England and Wales with their ONS codes "
        "(2023 vintage). British Transport Police has no area code and is not listed."
    ),
    columns=(
        replace(AREA_CODE, unique=True),
        Column(
            "area_name",
            "string",
            "ONS name of the police force area.",
            required=True,
            unique=True,
            derived_from=("raw_reference__police_force_areas.pfa_name_ons",),
        ),
        Column(
            "force_name",
            "string",
            "Name of the territorial police force.",
            required=True,
            derived_from=("raw_reference__police_force_areas.force_name",),
        ),
        Column(
            "country",
            "string",
            "England or Wales.",
            required=True,
            enum=("England", "Wales"),
            derived_from=("raw_reference__police_force_areas.country",),
        ),
        SOURCE_ID,
    ),
    primary_key=("area_code",),
    foreign_keys=(TO_SOURCES,),
)

AREA_NAMES = Table(
    name="area_names",
    title="Area names",
    description=(
        "Every spelling of an area name that the pipeline accepts, mapped to its ONS code: the ONS "
        "names, the force names, and spellings that sources print (raw/mappings/area_names.csv)."
    ),
    columns=(
        Column("area_as_published", "string", "A name as a source may print it.", required=True, unique=True),
        AREA_CODE,
        Column(
            "name_kind",
            "string",
            "ons_name, force_name, or alias (a spelling seen in a source).",
            required=True,
            enum=("ons_name", "force_name", "alias"),
        ),
        Column("notes", "string", "Why an alias maps to this code."),
        SOURCE_ID,
    ),
    primary_key=("area_as_published",),
    foreign_keys=(TO_AREAS, TO_SOURCES),
)

VIOLENCE_REDUCTION_UNITS = Table(
    name="violence_reduction_units",
    title="Violence Reduction Units",
    description=(
        "The 20 Violence Reduction Units funded by the Home Office: 18 from 2019-20, Cleveland and "
        "Humberside from 2022-23. Many have renamed themselves Partnerships or Networks."
    ),
    columns=(
        Column(
            "vru_id",
            "string",
            "Identifier: VRU_ followed by the area code.",
            required=True,
            unique=True,
            pattern=r"VRU_(E23|W15)\d{6}",
        ),
        replace(AREA_CODE, unique=True),
        Column(
            "vru_name",
            "string",
            "Name the unit uses in the most recent source seen.",
            required=True,
            derived_from=("raw_reference__violence_reduction_units.vru_name_current",),
        ),
        Column("vru_names_other", "string", "Earlier or alternative names, as written by the compiler."),
        Column("lead_or_host_body", "string", "Body that hosts or commissions the unit.", required=True),
        Column(
            "first_funded_year",
            "string",
            "First financial year of Home Office VRU funding (April to March).",
            required=True,
            pattern=FINANCIAL_YEAR,
            derived_from=("raw_reference__violence_reduction_units.first_funded_fy",),
        ),
        Column("established_as_published", "string", "How and when the unit was set up, as reported."),
        Column("source_urls", "string", "Pages the row's details come from, separated by ' ; '.", required=True),
        Column("notes", "string", "Caveats from the compiler."),
        SOURCE_ID,
    ),
    primary_key=("vru_id",),
    foreign_keys=(TO_AREAS, TO_SOURCES),
)

INITIATIVES = Table(
    name="initiatives",
    title="Initiatives (APCC case studies)",
    description=(
        "The eight initiatives of the APCC's 2023 serious violence case studies. Published figures are "
        "mostly outputs (referrals, people reached, arrests), not measured reductions in violence; no "
        "independent impact evaluation was found for any of them."
    ),
    columns=(
        Column(
            "initiative_id",
            "string",
            "Identifier made from the initiative's name.",
            required=True,
            unique=True,
            pattern=r"[a-z0-9]+(-[a-z0-9]+)*",
        ),
        Column(
            "initiative_name",
            "string",
            "Name of the initiative.",
            required=True,
            derived_from=("raw_reference__initiatives.initiative",),
        ),
        AREA_CODE,
        Column("lead_body", "string", "Body that leads or funds it.", required=True),
        Column("delivery_partners", "string", "Partners that deliver it."),
        Column(
            "year_started",
            "integer",
            "Year it started, where the source gives one at the start of its wording; "
            "blank otherwise (see start_as_published).",
            minimum=2000,
            maximum=2100,
            derived_from=("raw_reference__initiatives.year_started",),
        ),
        Column(
            "start_as_published",
            "string",
            "Start as the sources word it.",
            derived_from=("raw_reference__initiatives.year_started",),
        ),
        Column("target_group", "string", "Who it is for.", required=True),
        Column("approach", "string", "What it does (the compiler's short classification first).", required=True),
        Column("delivery_setting", "string", "Where it is delivered.", required=True),
        Column("outcome_figures_as_published", "string", "Published figures about it, worded as published."),
        Column("outcome_period", "string", "Period those figures cover."),
        Column(
            "outcome_source_urls",
            "string",
            "Where those figures were published.",
            derived_from=("raw_reference__initiatives.outcome_source",),
        ),
        Column("source_urls", "string", "Pages the row's details come from, separated by ' ; '.", required=True),
        Column("notes", "string", "Caveats from the compiler.", required=True),
        SOURCE_ID,
    ),
    primary_key=("initiative_id",),
    foreign_keys=(TO_AREAS, TO_SOURCES),
)

FUNDING_REPORTS = Table(
    name="funding_reports",
    title="Funding reports",
    description=(
        "Each funding figure as one source reports it: one row per area, stream, financial year and "
        "source. A figure a source does not give has no row; it is not a zero."
    ),
    columns=(
        Column(
            "report_id",
            "string",
            "Identifier: source, area code, stream and year joined by ':'.",
            required=True,
            unique=True,
        ),
        AREA_CODE,
        Column("area_as_published", "string", "Area name exactly as the source prints it.", required=True),
        Column(
            "stream",
            "string",
            "Funding stream: vru (Violence Reduction Unit grant), surge_grip (Surge, "
            "renamed Grip in 2021: hotspot policing grant to the force), hotspot_fund (the merged fund "
            "from 2024-25), svd (Serious Violence Duty grant).",
            required=True,
            enum=STREAMS,
        ),
        Column(
            "financial_year",
            "string",
            "Financial year, April to March, as YYYY-YY.",
            required=True,
            pattern=FINANCIAL_YEAR,
        ),
        Column(
            "amount_gbp",
            "number",
            "Amount in pounds sterling, parsed from amount_as_published.",
            title="Amount (GBP)",
            unit="GBP",
            required=True,
            minimum=0,
        ),
        Column("amount_as_published", "string", "The amount exactly as the source prints it.", required=True),
        Column(
            "amount_kind",
            "string",
            "What kind of figure it is: exact, rounded, upper_bound, lower_bound or multi_year_total.",
            required=True,
            enum=AMOUNT_KINDS,
        ),
        SOURCE_ID,
        Column("raw_file", "string", "File in raw/ the figure was read from.", required=True),
        Column(
            "raw_row",
            "integer",
            "Row of that file, counting the header as row 1 (as a spreadsheet does).",
            required=True,
            minimum=2,
        ),
    ),
    primary_key=("report_id",),
    foreign_keys=(TO_AREAS, TO_SOURCES),
)

# In dependency order: a table's foreign keys point only to tables before it.
PUBLISHED_TABLES: dict[str, Table] = {
    t.name: t for t in (SOURCES, POLICE_FORCE_AREAS, AREA_NAMES, VIOLENCE_REDUCTION_UNITS, INITIATIVES, FUNDING_REPORTS)
}
