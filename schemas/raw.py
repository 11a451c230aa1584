"""Raw tables: the files in raw/ exactly as published, with their own column headings.

Every raw value is read as text (blank cells as missing); these schemas check what must be present
and what a value must look like before anything is parsed. Column order is checked too: a renamed,
missing or extra column fails loudly.
"""

from dataclasses import replace

from schemas.model import Column, Table
from schemas.vocabulary import COMPONENTS, GBP_AS_PRINTED, GBP_HINT, NOTE_KINDS, REPORT_STREAMS, VERDICTS

PFA_CODE = r"(E23|W15)\d{6}"
PFA_HINT = "an ONS police force area code, like 'E23000001' or 'W15000003'"
# Amounts as the Home Office prints them (GBP_AS_PRINTED, GBP_HINT) come from schemas/vocabulary.py.


def _text(name: str, description: str, **kwargs) -> Column:
    return Column(name, "string", description, **kwargs)


POLICE_FORCE_AREAS = Table(
    name="raw_reference__police_force_areas",
    file_id="reference__police_force_areas",
    title="Police force areas (reference compilation)",
    description="The 43 territorial police force areas plus a note row for British Transport Police.",
    columns=(
        _text(
            "pfa_code",
            "ONS police force area code; blank on the BTP note row.",
            pattern=PFA_CODE,
            pattern_hint=PFA_HINT,
        ),
        _text("pfa_name_ons", "ONS name of the area.", required=True),
        _text("country", "Country, derived from the code prefix.", required=True),
        _text("force_name", "Name of the police force.", required=True),
        _text("local_policing_body_type", "Kind of local policing body."),
        _text("local_policing_body_name", "Title of the local policing body."),
        _text("body_name_basis", "How the body's title was established.", required=True),
        _text("body_type_since", "When the current arrangement began.", pattern=r"\d{4}(-\d{2}(-\d{2})?)?"),
        _text("body_source_url", "Source of the local policing body."),
        _text("code_source", "Source of the code.", required=True),
        _text("force_name_source", "Source of the force name.", required=True),
        _text("notes", "Compiler's notes."),
    ),
)

VIOLENCE_REDUCTION_UNITS = Table(
    name="raw_reference__violence_reduction_units",
    file_id="reference__violence_reduction_units",
    title="Violence Reduction Units (reference compilation)",
    description="The 20 Home Office-funded Violence Reduction Units.",
    columns=(
        _text("area", "Area as the compiler wrote it.", required=True),
        _text(
            "pfa_code",
            "ONS police force area code.",
            required=True,
            unique=True,
            pattern=PFA_CODE,
            pattern_hint=PFA_HINT,
        ),
        _text("vru_name_current", "Name the unit uses now.", required=True),
        _text("vru_name_other", "Earlier or other names."),
        _text("lead_or_host_body", "Body that hosts or commissions the unit.", required=True),
        _text("first_funded_fy", "First year of Home Office VRU funding.", required=True, pattern=r"\d{4}/\d{2}"),
        _text("established_as_published", "Launch wording as reported.", required=True),
        _text("initial_or_early_home_office_allocation_as_reported", "Early allocation as reported."),
        _text("vru_allocation_2023_24_gov_uk", "2023/24 allocation copied from gov.uk.", pattern=GBP_AS_PRINTED),
        _text("source_urls", "Pages the row comes from, separated by ' ; '.", required=True),
        _text("programme_list_source", "Pages listing the programme's areas.", required=True),
        _text("notes", "Compiler's notes."),
    ),
)

INITIATIVES = Table(
    name="raw_reference__initiatives",
    file_id="reference__initiatives",
    title="APCC case-study initiatives (reference compilation)",
    description="The eight initiatives of the APCC's serious violence case studies.",
    columns=(
        _text("initiative", "Initiative name.", required=True, unique=True),
        _text("police_force_area", "Area as the compiler wrote it.", required=True),
        _text("pfa_code", "ONS police force area code.", required=True, pattern=PFA_CODE, pattern_hint=PFA_HINT),
        _text("lead_body", "Lead body.", required=True),
        _text("delivery_partners", "Delivery partners."),
        _text("year_started", "Start as published, with context."),
        _text("target_group", "Who the initiative is for.", required=True),
        _text("approach", "Approach, in the compiler's short classification.", required=True),
        _text("delivery_setting", "Where it is delivered.", required=True),
        _text("outcome_figures_as_published", "Published output or outcome figures, as worded."),
        _text("outcome_period", "Period of those figures."),
        _text("outcome_source", "Source of those figures."),
        _text("source_urls", "Pages the row comes from, separated by ' ; '.", required=True),
        _text("notes", "Compiler's notes.", required=True),
    ),
)

FUNDING_STREAMS = Table(
    name="raw_project__funding_streams",
    file_id="project__funding_streams",
    title="Funding stream labels mapped to stream codes",
    description="Every stream label a funding file prints, mapped to a stream code and a component.",
    columns=(
        _text("stream_as_published", "A label as a funding file prints it.", required=True, unique=True),
        _text(
            "stream",
            "Stream code.",
            required=True,
            enum=REPORT_STREAMS,
        ),
        _text(
            "component",
            "Which part of the allocation the figure is.",
            required=True,
            enum=COMPONENTS,
        ),
        _text("notes", "What the label means.", required=True),
    ),
)

SOURCE_KINDS = Table(
    name="raw_project__source_kinds",
    file_id="project__source_kinds",
    title="Kinds of source and their authority",
    description="The authority rank of each kind of source: the rule that picks one figure per cell.",
    columns=(
        _text("kind", "Kind of source.", required=True, unique=True),
        _text("authority_rank", "1 is the most authoritative.", required=True, pattern=r"[1-9]"),
        _text("description", "What the kind covers.", required=True),
    ),
)

AREA_NAMES = Table(
    name="raw_project__area_names",
    file_id="project__area_names",
    title="Area name spellings mapped to ONS codes",
    description="Spellings of area names that sources print, other than the ONS and force names.",
    columns=(
        _text("area_as_published", "A spelling a source prints.", required=True, unique=True),
        _text(
            "area_code",
            "ONS police force area code it means; blank for a name that covers several areas.",
            pattern=PFA_CODE,
            pattern_hint=PFA_HINT,
        ),
        _text("notes", "Why this spelling maps to this code.", required=True),
    ),
)

NATIONAL_TOTALS = Table(
    name="raw_local_reports__national_totals",
    file_id="local_reports__national_totals",
    title="National totals by stream and year",
    description="National totals of funding streams by year, as printed, each with its source.",
    columns=(
        _text("stream_as_published", "Stream label.", required=True),
        _text("year_as_published", "Financial year as printed.", required=True),
        _text("amount_as_published", "Total as printed.", required=True),
        _text("description", "What the total is.", required=True),
        _text("source_id", "Document the total comes from.", required=True, pattern=r"[SG]\d+"),
    ),
)

IMPACT_CLAIMS = Table(
    name="raw_reference__impact_claims",
    file_id="reference__impact_claims",
    title="Published impact claims (reference compilation)",
    description="National impact figures about VRUs, Grip and serious violence funding, with sources.",
    columns=(
        _text("claim_id", "Claim identifier.", required=True, unique=True, pattern=r"C\d{2}"),
        _text("claim", "The claim, paraphrased.", required=True),
        _text("metric", "What is measured.", required=True),
        _text("value", "Value(s) as published."),
        _text("unit", "Unit."),
        _text("period", "Period covered."),
        _text("geography", "Where.", required=True),
        _text("publisher", "Who published it.", required=True),
        _text("date", "Date, ISO where known."),
        _text("source_url", "Pages the claim comes from, separated by ' ; '.", required=True),
        _text("notes", "Compiler's notes."),
    ),
)

REPORT_CLAIMS = Table(
    name="raw_reference__report_claims",
    file_id="reference__report_claims",
    title="APCC report headline claims",
    description="The headline statements of the APCC 'In Focus' summary, quoted as stated.",
    columns=(
        _text("claim_id", "Claim identifier.", required=True, unique=True, pattern=r"R\d{2}"),
        _text("section", "Section of the summary.", required=True),
        _text("claim_as_stated", "The statement as quoted.", required=True),
        _text("related_impact_claims", "The compiler's pointer to the impact claims that bear on it.", required=True),
    ),
)

EVIDENCE_RATINGS = Table(
    name="raw_reference__evidence_ratings",
    file_id="reference__evidence_ratings",
    title="Youth Endowment Fund Toolkit ratings",
    description="Estimated impact bands of approaches, from Youth Endowment Fund pages.",
    columns=(
        _text("approach", "Toolkit approach.", required=True, unique=True),
        _text("yef_estimated_impact_band", "Impact band as published.", required=True),
        _text("impact_band_definition", "What the band means."),
        _text("impact_figures_as_published", "Average effects as stated."),
        _text("evidence_quality_as_published", "Evidence quality in words, where stated."),
        _text("cost_rating", "Cost rating (not captured)."),
        _text("matched_initiatives", "The compiler's matches to the initiatives."),
        _text("source_urls", "Pages, separated by ' ; '.", required=True),
        _text("notes", "Compiler's notes."),
    ),
)

REPORT_CLAIM_VERDICTS = Table(
    name="raw_project__report_claim_verdicts",
    file_id="project__report_claim_verdicts",
    title="Verdicts on the APCC headline claims",
    description="This project's verdict on each headline claim against its primary sources.",
    columns=(
        _text("claim_id", "Report claim.", required=True, unique=True, pattern=r"R\d{2}"),
        _text(
            "verdict",
            "Verdict.",
            required=True,
            enum=VERDICTS,
        ),
        _text("primary_source_says", "What the primary source says.", required=True),
        _text(
            "evidence_claim_ids",
            "Impact claims the verdict rests on, separated by spaces.",
            required=True,
            pattern=r"C\d{2}( C\d{2})*",
        ),
    ),
)

INITIATIVE_APPROACHES = Table(
    name="raw_project__initiative_approaches",
    file_id="project__initiative_approaches",
    title="Initiatives linked to Toolkit approaches",
    description="Which Toolkit approaches each initiative uses, and how closely it matches them.",
    columns=(
        _text("initiative_id", "Initiative identifier.", required=True),
        _text("approach", "Toolkit approach as named in evidence_ratings.csv.", required=True),
        _text(
            "match",
            "How closely the initiative matches the approach.",
            required=True,
            enum=("full", "partial", "indirect"),
        ),
        _text("notes", "Which part of the initiative matches.", required=True),
    ),
)

# The fields of an ONS Explore Local Statistics indicator file. Editions name them differently
# (AREACD/areacd, Value/Observation/observation, Observation Status/status): each manifest entry maps
# these fields to its own headings in layout_columns, so a new edition is a manifest entry, not code.
ONS_ELS_FIELDS = (
    _text("areacd", "ONS area code.", required=True),
    _text("areanm", "Area name.", required=True),
    _text("geography", "Kind of area (Police Force Area, Region, ...).", required=True),
    _text(
        "period",
        "Period, ISO 8601 start/duration ('2019-04-01/P3Y' or '2019-04-01T00:00:00/P3Y').",
        required=True,
        pattern=r"\d{4}-04-01(T00:00:00)?/P3Y",
        pattern_hint="a three-year period like '2019-04-01/P3Y'",
    ),
    # No sign: a negative rate is impossible and is refused here, in every row, published or not.
    _text("observation", "Rate as stored.", pattern=r"\d+(\.\d+)?", pattern_hint="a number (no sign)"),
    _text(
        "status",
        "Status code: 'u' unavailable (edition of 2026), 'c' confidential (earlier editions); the value is blank.",
        enum=("u", "c"),
    ),
)


def headed_table(file_id: str, title: str, what: str, fields: tuple, headings: dict[str, str], *, all_fields: bool):
    """A publisher's file declared by a layout's fields under this edition's own headings (layout_columns).

    Only the mapped fields are read and checked; the publisher's other columns are kept as published but
    not declared. With `all_fields`, every field must be mapped.
    """
    missing = [f.name for f in fields if f.name not in headings and (all_fields or f.required)]
    if missing:
        raise ValueError(f"{file_id}: layout_columns lacks {', '.join(missing)}")
    return Table(
        name=f"raw_{file_id}",
        file_id=file_id,
        title=title,
        description=f"{title}: {what}, as published.",
        columns=tuple(replace(f, name=headings[f.name]) for f in fields if f.name in headings),
        strict=False,
    )


def ons_pfa_long_table(file_id: str, title: str, *, from_workbook: bool = False) -> Table:
    """An ONS police force area table transcribed one published cell per row (layout 'ons_pfa_long').

    Every edition and table of the series shares this layout, so a new edition needs a manifest
    entry with `table_layout: ons_pfa_long`, not code. A workbook read by the pipeline (`from_workbook`)
    adds the cell each value was read from; a transcription has only its own row.
    """
    cell = _text(
        "source_cell",
        "The workbook cell the value was read from: sheet name without trailing spaces, '!', column and row.",
        required=True,
        pattern=r"[^!]+![A-Z]{1,3}[1-9]\d*",
        pattern_hint="a cell like 'Table P1!G10'",
    )
    return Table(
        name=f"raw_{file_id}",
        file_id=file_id,
        title=title,
        description=f"{title}: one row per published cell (area x column), values and symbols as published.",
        columns=(
            _text("source_table", "Sheet name as published.", required=True),
            _text("area_code", "ONS code as published; blank for British Transport Police and some total rows."),
            _text("area_name", "Area name as published, footnote markers removed.", required=True),
            _text("area_name_footnotes", "Footnote markers that were attached to the name (per table)."),
            _text("column_group", "Upper header row, carried across the columns it spans."),
            _text("column_heading", "Lower header row (or the only heading).", required=True),
            _text("unit_as_published", "Units line under the headings, where the table has one."),
            _text("period_as_published", "Period the value refers to.", required=True),
            _text(
                "financial_year",
                "Derived label for April-March periods ('2018-19').",
                pattern=r"\d{4}-\d{2}",
                pattern_hint="a financial year like '2018-19'",
            ),
            _text(
                "value_as_published", "The cell as stored: a number, or a symbol (-, +, .., NA, N/A).", required=True
            ),
            *((cell,) if from_workbook else ()),
        ),
    )


def ons_mye_table(file_id: str, title: str) -> Table:
    """An ONS mid-year population estimates workbook (layout 'ons_mye_workbook', pipeline/sources/workbooks.py):
    one row per published cell of MYE4 (geography x mid-year) and of MYE1's 'All Persons' row (per country)."""
    return Table(
        name=f"raw_{file_id}",
        file_id=file_id,
        title=title,
        description=f"{title}: one row per published cell (geography x mid-year), as published.",
        columns=(
            _text("source_table", "Sheet.", required=True, enum=("MYE4", "MYE1")),
            _text("cell", "The cell's reference in its sheet ('D12').", required=True, pattern=r"[A-Z]{1,2}[1-9]\d*"),
            _text(
                "area_code",
                "ONS code of the geography as published.",
                required=True,
                pattern=r"[EWK]\d{8}",
                pattern_hint="an ONS geography code like 'E06000001' or 'K04000001'",
            ),
            _text("area_name", "Name as published.", required=True),
            _text("geography", "Kind of geography as published (Country, Region, London Borough, ...).", required=True),
            _text(
                "period_as_published",
                "The column's heading ('Mid-2023'), or for MYE1 the mid-year of its title.",
                required=True,
                pattern=r"Mid-\d{4}",
                pattern_hint="a mid-year like 'Mid-2023'",
            ),
            _text("mid_year", "The year of the mid-year (30 June).", required=True, pattern=r"\d{4}"),
            # Whole people: a blank, a symbol or a decimal here is refused before anything is summed.
            _text(
                "value_as_published",
                "Population as stored.",
                required=True,
                pattern=r"\d+",
                pattern_hint="a whole number of people",
            ),
        ),
    )


LAD_PFA_LOOKUP = Table(
    name="raw_ons__lad23_csp_pfa_lookup_dec2023",
    file_id="ons__lad23_csp_pfa_lookup_dec2023",
    title="Local authority district to Community Safety Partnership to police force area lookup (December 2023)",
    description="One row per district and Community Safety Partnership, with the police force area it lies in.",
    columns=(
        _text(
            "LAD23CD",
            "District code (2023 boundaries).",
            required=True,
            pattern=r"[EW]0[6-9]\d{6}",
            pattern_hint="a district code like 'E06000001' or 'W06000022'",
        ),
        _text("LAD23NM", "District name.", required=True),
        _text("CSP23CD", "Community Safety Partnership code.", required=True, pattern=r"(E22|W14)\d{6}"),
        _text("CSP23NM", "Community Safety Partnership name.", required=True),
        _text("PFA23CD", "Police force area code.", required=True, pattern=PFA_CODE, pattern_hint=PFA_HINT),
        _text("PFA23NM", "Police force area name.", required=True),
        _text("ObjectId", "The portal's row identifier.", required=True, unique=True, pattern=r"\d+"),
    ),
)


# The key columns of an ONS wide table (one row per area, one column per offence group), such as Table C2
# of the year-ending-June-2025 edition: force totals, then their Community Safety Partnerships. The offence
# columns are read as published and mapped to measures in raw/mappings/outcome_measures.csv.
ONS_WIDE_FIELDS = (
    _text("area_code", "Police force area code.", required=True, pattern=PFA_CODE, pattern_hint=PFA_HINT),
    _text("area_name", "Police force area name.", required=True),
    _text("partnership_code", "Community Safety Partnership code; blank on the force total row."),
    _text("partnership_name", "Community Safety Partnership name; blank on the force total row."),
    _text("local_authority_code", "Local authority code of the partnership."),
    _text("local_authority_name", "Local authority name of the partnership."),
)


# What each field of a funding report means, for the raw columns a funding file's layout maps onto it.
FUNDING_FIELDS = {
    "area_as_published": _text("area_as_published", "Area as the source prints it.", required=True),
    "stream_as_published": _text("stream_as_published", "Funding stream label as printed.", required=True),
    "year_as_published": _text("year_as_published", "Year or period as the source states it.", required=True),
    "amount_as_published": _text("amount_as_published", "Amount copied character for character.", required=True),
    "notes": _text("notes", "Compiler's notes."),
    "source_id": _text(
        "source_id",
        "Document the figure comes from.",
        required=True,
        # R: the reference compilation's sources, one of which (R04, a Home Office answer) states a floor for
        # every VRU.
        pattern=r"[SGR]\d+",
        pattern_hint="a source id like 'S06', 'G14' or 'R04'",
    ),
}


def funding_table(file_id: str, title: str, layout: dict) -> Table:
    """A funding file's raw table, from its manifest `funding_layout`: each column the layout maps onto a
    report field (`columns`, in the file's order), then each wide column of one stream's amounts
    (`amount_columns`, amounts as printed: '£8,907,532'). A wide table has one row per area, so there
    its area column is unique."""
    wide = bool(layout.get("amount_columns"))
    columns = [
        replace(FUNDING_FIELDS[field], name=heading, unique=wide and field == "area_as_published")
        for heading, field in layout.get("columns", {}).items()
    ]
    columns += [
        _text(heading, f"{stream} amounts, as printed.", pattern=GBP_AS_PRINTED, pattern_hint=GBP_HINT)
        for heading, stream in layout.get("amount_columns", {}).items()
    ]
    return Table(
        name=f"raw_{file_id}",
        file_id=file_id,
        title=title,
        description=f"{title}: one or more printed figures per row, mapped onto funding reports by the manifest.",
        columns=tuple(columns),
    )


def layout_tables(files) -> list[Table]:
    """Raw tables declared by the manifest alone: funding files (their `funding_layout`); ons_pfa_long and
    ons_pfa_workbook (a workbook is read into the long layout); ons_els_indicator and ons_wide_table (under
    each edition's own headings). A new file in one of these layouts is a manifest entry, not code."""
    tables = []
    for f in files:
        if f.funding_layout:
            tables.append(funding_table(f.file_id, f.title, f.funding_layout))
        elif f.table_layout in ("ons_pfa_long", "ons_pfa_workbook"):
            tables.append(ons_pfa_long_table(f.file_id, f.title, from_workbook=f.table_layout == "ons_pfa_workbook"))
        elif f.table_layout == "ons_mye_workbook":
            tables.append(ons_mye_table(f.file_id, f.title))
        elif f.table_layout == "ons_els_indicator":
            what = "one row per area and period"
            tables.append(headed_table(f.file_id, f.title, what, ONS_ELS_FIELDS, f.layout_columns, all_fields=True))
        elif f.table_layout == "ons_wide_table":
            what = "one row per force or partnership, one column per offence group"
            tables.append(headed_table(f.file_id, f.title, what, ONS_WIDE_FIELDS, f.layout_columns, all_fields=False))
    return tables


ONS_PFA_NOTES = Table(
    name="raw_ons__pfa_table_notes",
    file_id="ons__pfa_table_notes",
    title="ONS PFA table notes",
    description="Title, source line and every numbered footnote of each transcribed ONS table, as published.",
    columns=(
        _text("source_file", "Workbook the line comes from.", required=True),
        _text("source_table", "Sheet.", required=True),
        _text("line_kind", "title, source or footnote.", required=True),
        _text("text_as_published", "The line as published.", required=True),
    ),
)

OUTCOME_MEASURES = Table(
    name="raw_project__outcome_measures",
    file_id="project__outcome_measures",
    title="ONS table columns mapped to measures",
    description="Which column of which ONS table becomes which measure of area_outcomes ('*': any column group).",
    columns=(
        _text("source_table", "Sheet.", required=True),
        _text("column_group", "Upper header ('*' for any)."),
        _text("column_heading", "Lower header.", required=True),
        _text("unit_as_published", "Units line."),
        _text("measure", "Measure code.", required=True),
        _text("unit", "Unit of the measure.", required=True),
        _text("notes", "What the measure is.", required=True),
    ),
)

SOURCE_NOTE_COVERAGE = Table(
    name="raw_project__source_note_coverage",
    file_id="project__source_note_coverage",
    title="What each ONS footnote covers (this project's reading of the notes)",
    description=(
        "For each footnote under an ONS table that says where a force's series breaks, under-counts, is estimated, "
        "revised or includes one event: the note's cell, what kind of note it is, and the areas, measures and "
        "periods it covers where the note says so. The note's text is read from the cell, never retyped here."
    ),
    columns=(
        _text("file_id", "The workbook's file_id in raw/sources.yaml.", required=True),
        _text("note_cell", "Cell of the note ('Table P5!A70').", required=True, pattern=r"Table P\d+![A-Z]+\d+"),
        _text(
            "kind",
            "What the note says of the values it covers (schemas/vocabulary.py, NOTE_KINDS).",
            required=True,
            enum=tuple(NOTE_KINDS),
        ),
        _text(
            "area_codes", "Areas the note names, ';'-separated (the marker's area where it names none).", required=True
        ),
        _text("measures", "Measures of the note's table it concerns, ';'-separated; blank where it changes none."),
        _text(
            "covers",
            "all: every period of the table; overlapping / within: periods overlapping or within the dates below.",
            required=True,
            enum=("all", "overlapping", "within"),
        ),
        _text("covers_from", "First day the note's words set (blank: open).", pattern=r"\d{4}-\d{2}-\d{2}"),
        _text("covers_until", "Last day the note's words set (blank: open).", pattern=r"\d{4}-\d{2}-\d{2}"),
    ),
)

RAW_TABLES: dict[str, Table] = {
    t.name: t
    for t in (
        NATIONAL_TOTALS,
        POLICE_FORCE_AREAS,
        VIOLENCE_REDUCTION_UNITS,
        INITIATIVES,
        AREA_NAMES,
        FUNDING_STREAMS,
        SOURCE_KINDS,
        IMPACT_CLAIMS,
        REPORT_CLAIMS,
        EVIDENCE_RATINGS,
        REPORT_CLAIM_VERDICTS,
        INITIATIVE_APPROACHES,
        ONS_PFA_NOTES,
        OUTCOME_MEASURES,
        SOURCE_NOTE_COVERAGE,
        LAD_PFA_LOOKUP,
    )
}
