"""Published tables: the CSVs in outputs/data/ and their Frictionless schemas.

One row per fact, a source on every row, ONS codes as keys, gaps left as gaps (a missing figure has
no row; it is never a zero).
"""

from dataclasses import replace

from schemas.model import Column, ForeignKey, Table
from schemas.plausibility import RULES, SEVERITIES
from schemas.raw import PFA_CODE, PFA_HINT
from schemas.vocabulary import (
    AMOUNT_KINDS,
    AREA_GROUPS,
    CHOSEN_BECAUSE,
    COMPONENTS,
    FUNDING_YEARS,
    NOTE_KINDS,
    OUTCOME_YEARS,
    PER_HEAD_STREAMS,
    POPULATION_RULE,
    REPORT_STREAMS,
    STREAMS,
    TOTAL_STATUSES,
    VARIANTS,
    VERDICTS,
    source_kind_ranks,
    stream_first_year,
    stream_last_year,
)

FINANCIAL_YEAR = r"\d{4}-\d{2}"
SOURCE_KIND_RANKS = source_kind_ranks()
SOURCE_KINDS = tuple(SOURCE_KIND_RANKS)
STREAM_DESCRIPTION = (
    "Funding stream: vru (Violence Reduction Unit grant), surge_grip (Surge, renamed Grip in 2021: hotspot "
    f"policing grant to the force, until {stream_last_year('surge_grip')}), hotspot_fund (Grip merged with "
    f"anti-social behaviour hotspot money from {stream_first_year('hotspot_fund')}: Hotspot Response, then "
    "Hotspot Action), svd (Serious Violence Duty grant)"
)
AMOUNT_KIND_DESCRIPTION = (
    "How the printed amount reads: exact (to the pound or penny), rounded ('£3.37m', 'around £1.5m', 'c.£535k'), "
    "lower_bound ('more than £1.1 million', 'over £5M', 'at least £3 million'), upper_bound ('up to £880,000', "
    "'just under £1m', 'almost £3.4m')."
)

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
# Optional columns carry no `pattern`: frictionless's SQL adapter (used by datapackage-to-datasette) turns a
# pattern into a REGEXP check whose Python function fails on NULL. Optional area codes are checked by their
# foreign key instead, and optional years by an enum, which SQL checks NULL-safely.
OPTIONAL_AREA_CODE = replace(AREA_CODE, required=False, pattern="", pattern_hint="")
YEARS = FUNDING_YEARS
TO_AREAS = ForeignKey(("area_code",), "police_force_areas", ("area_code",))

SOURCES = Table(
    name="sources",
    one_row_per="public document cited",
    title="Sources",
    description=(
        "Every public document a published row cites, from the manifest raw/sources.yaml, with the "
        "authority of its kind (1 highest), which decides between sources that disagree; and the publishers' "
        "series pages the pipeline fetches new versions from (ONS dataset pages, GOV.UK pages, Parliament's "
        "written questions), listed before any row cites them."
    ),
    columns=(
        Column("source_id", "string", "Manifest identifier of the document.", required=True, unique=True),
        Column("title", "string", "Title of the document, or its URL slug where it has no title.", required=True),
        Column("publisher", "string", "Who published it.", required=True),
        Column(
            "url",
            "string",
            "The publisher's own address of the document (never a mirror, cache or staging host).",
            required=True,
            pattern=r"https?://\S+",
        ),
        Column(
            "archive_url",
            "string",
            "Where the document was actually read, when that was a mirror, cache or staging copy of the publisher's "
            "page; blank when it was read at url.",
        ),
        Column("url_note", "string", "How url was established where it was not where the document was read."),
        Column("date_published", "date", "Publication date, where the document states a full date; blank otherwise."),
        Column(
            "date_as_stated", "string", "The date as the document or its URL gives it, with the compiler's context."
        ),
        Column(
            "licence",
            "string",
            "Licence of the document's content: OGL-UK-3.0, OPL-UK-3.0 (Open Parliament "
            "Licence), CC-BY-4.0, or publisher-copyright (only facts are taken from it).",
            required=True,
        ),
        Column("kind", "string", "Kind of document.", required=True, enum=SOURCE_KINDS),
        Column(
            "authority_rank",
            "integer",
            "Authority of the kind: 1 Home Office table (or official code list), "
            "2 Home Office answer to Parliament or report, 3 PCC/VRU/force publication (or this project's "
            "compilation), 4 press, research bodies and other reports.",
            required=True,
            minimum=1,
            maximum=max(SOURCE_KIND_RANKS.values()),
        ),
        Column(
            "verification",
            "string",
            "verified: the figures taken from it were re-read in a stored copy (or it is a byte copy of the "
            "publisher's file); contradicted: a stored copy or other sources disagree with what is taken from it "
            "(see check_method); not_rechecked: transcribed once, not checked again.",
            required=True,
            enum=("verified", "not_rechecked", "contradicted"),
        ),
        Column("checked_on", "date", "When it was last checked against a stored copy."),
        Column("check_method", "string", "How it was checked, and what the copy says."),
        Column("notes", "string", "What the document contains and what was (not) seen of it."),
    ),
    primary_key=("source_id",),
)

POLICE_FORCE_AREAS = Table(
    name="police_force_areas",
    one_row_per="territorial police force area",
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
    one_row_per="accepted spelling of an area name",
    title="Area names",
    description=(
        "Every spelling of an area name that the pipeline accepts, mapped to its ONS code: the ONS "
        "names, the force names, and spellings that sources print (raw/mappings/area_names.csv)."
    ),
    columns=(
        Column("area_as_published", "string", "A name as a source may print it.", required=True, unique=True),
        replace(OPTIONAL_AREA_CODE, description="ONS police force area code; blank for a region."),
        Column(
            "name_kind",
            "string",
            "ons_name, force_name, alias (a spelling seen in a source) or region (a name covering several "
            "areas, which has no code).",
            required=True,
            enum=("ons_name", "force_name", "alias", "region"),
        ),
        Column("notes", "string", "Why an alias maps to this code."),
        SOURCE_ID,
    ),
    primary_key=("area_as_published",),
    foreign_keys=(TO_AREAS, TO_SOURCES),
)

VIOLENCE_REDUCTION_UNITS = Table(
    name="violence_reduction_units",
    one_row_per="Violence Reduction Unit",
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
    one_row_per="APCC case-study initiative",
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

# An area, stream and financial year: the cell of funding_allocations and funding_coverage.
STREAM = Column("stream", "string", STREAM_DESCRIPTION + ".", required=True, enum=STREAMS)
CELL = (
    AREA_CODE,
    STREAM,
    Column(
        "financial_year", "string", "Financial year, April to March (YYYY-YY).", required=True, pattern=FINANCIAL_YEAR
    ),
)

FUNDING_REPORTS = Table(
    name="funding_reports",
    one_row_per="funding figure as one source reports it",
    title="Funding reports",
    description=(
        "Each funding figure as one source reports it: one row per area, stream, period and source, with the "
        "printed strings kept beside the parsed values. Sources disagree in places; all reports are kept here "
        "side by side (funding_allocations picks one per cell). A figure no source gives has no row."
    ),
    columns=(
        Column(
            "report_id",
            "string",
            "Identifier: the raw file's id and row (and stream, for a table with one column per stream).",
            required=True,
            unique=True,
        ),
        replace(
            OPTIONAL_AREA_CODE,
            description="ONS police force area code; blank where the source reports a region (several areas).",
        ),
        Column("area_as_published", "string", "Area name exactly as the source prints it.", required=True),
        Column(
            "stream",
            "string",
            STREAM_DESCRIPTION + "; combined (several streams, split not stated); other "
            "(money the source does not identify as one of these).",
            required=True,
            enum=REPORT_STREAMS,
            derived_from=("core_funding_reports.stream_as_published", "raw_project__funding_streams.stream"),
        ),
        Column(
            "component",
            "string",
            "Which part of the allocation: total, or labour / non_labour (Serious "
            "Violence Duty parts), first_tranche (the first 2019-20 surge tranche), additional (a separate "
            "extra award).",
            required=True,
            enum=COMPONENTS,
        ),
        Column("stream_as_published", "string", "The stream label as printed or recorded.", required=True),
        Column(
            "financial_year",
            "string",
            "First financial year covered (April to March, YYYY-YY); blank where the source states no year.",
            enum=YEARS,
            derived_from=("core_funding_reports.year_as_published",),
        ),
        Column(
            "financial_year_last",
            "string",
            "Last financial year covered: equal to financial_year for one "
            "year, later for a multi-year total, blank where open-ended or not stated.",
            enum=YEARS,
        ),
        Column("year_as_published", "string", "The period as printed.", required=True),
        Column(
            "is_year_inferred",
            "boolean",
            "True where the year is the compiler's inference, not printed.",
            required=True,
        ),
        Column(
            "amount_gbp",
            "number",
            "The printed number in pounds sterling (for a bound, the bound).",
            title="Amount (GBP)",
            unit="GBP",
            required=True,
            minimum=0,
            derived_from=("core_funding_reports.amount_as_published",),
        ),
        Column(
            "amount_kind",
            "string",
            AMOUNT_KIND_DESCRIPTION,
            required=True,
            enum=AMOUNT_KINDS,
            derived_from=("core_funding_reports.amount_as_published",),
        ),
        Column("amount_as_published", "string", "The amount exactly as the source prints it.", required=True),
        Column(
            "amount_basis",
            "string",
            "whole_period: the amount covers the whole period (one year, or a multi-year total); each_year: the "
            "source states the amount for each year of a longer period, and this row is one of those years "
            "(its report_id ends in the year). Declared per raw row in the manifest's funding_layout, with the "
            "source's words.",
            required=True,
            enum=("whole_period", "each_year"),
        ),
        Column("notes", "string", "The compiler's notes on the figure."),
        SOURCE_ID,
        Column(
            "raw_file",
            "string",
            "File the figure was read from, as a path inside the release archive (raw/...; raw/sources.yaml there "
            "says where and when it was obtained).",
            required=True,
        ),
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

FUNDING_ALLOCATIONS = Table(
    name="funding_allocations",
    one_row_per="area, stream and year with a figure (one chosen)",
    title="Funding allocations (one figure per cell)",
    description=(
        "One figure per area, stream and financial year, chosen from funding_reports by source authority: "
        "Home Office table > Home Office answer > PCC/VRU/force publication > press; among equals an exact "
        "figure beats a rounded one, which beats a bound; then the more precise wording; then the lowest source "
        "id. Bounds have their own rule: a bound a more authoritative report contradicts is set aside, and a lower "
        "and an upper bound that meet pin the figure (a floor a source states for every VRU takes part, but is "
        "never a cell's figure). chosen_because names the step that decided. Only single-year, "
        "single-area, whole-allocation figures of the four streams take part. has_conflict marks cells whose "
        "reports cannot all be true at once (their printed ranges do not meet). A figure of a stream another "
        "replaced that year is kept, with superseded_because, and summed nowhere."
    ),
    columns=(
        *CELL,
        Column(
            "amount_gbp",
            "number",
            "The chosen figure in pounds sterling.",
            title="Amount (GBP)",
            unit="GBP",
            required=True,
            minimum=0,
            derived_from=("core_funding_reports.amount_gbp", "core_sources.authority_rank"),
        ),
        Column("amount_kind", "string", AMOUNT_KIND_DESCRIPTION, required=True, enum=AMOUNT_KINDS),
        Column("amount_as_published", "string", "The chosen figure as its source prints it.", required=True),
        Column(
            "is_year_inferred",
            "boolean",
            "True where the chosen figure's year is the compiler's inference.",
            required=True,
        ),
        SOURCE_ID,
        Column("report_id", "string", "The chosen report in funding_reports.", required=True),
        Column(
            "chosen_because",
            "string",
            "The step of the rule that decided: only_report (one report), authority (a more authoritative kind of "
            "source), exactness (exact over rounded over a bound), precision (the narrower printed range), "
            "bounds_combined (a lower bound and an upper bound, from different sources, meet: the figure is that "
            "amount, amount_kind exact, amount_as_published the chosen report's wording), id_order (nothing else "
            "told them apart).",
            required=True,
            enum=CHOSEN_BECAUSE,
            derived_from=("core_funding_reports.amount_as_published", "core_sources.authority_rank"),
        ),
        Column("n_reports", "integer", "How many reports of this cell there are.", required=True, minimum=1),
        Column("n_sources", "integer", "How many different sources report it.", required=True, minimum=1),
        Column(
            "has_conflict",
            "boolean",
            "True where the reports of this cell cannot all be true at once.",
            required=True,
            derived_from=("core_funding_reports.amount_as_published",),
        ),
        Column(
            "min_reported_gbp",
            "number",
            "The smallest amount_gbp any report of this cell gives (for a bound, the bound): with max_reported_gbp, "
            "the range the sources span (the two are equal where every report gives the same amount).",
            unit="GBP",
            required=True,
            derived_from=("core_funding_reports.amount_gbp",),
        ),
        Column(
            "max_reported_gbp",
            "number",
            "The largest amount_gbp any report of this cell gives.",
            unit="GBP",
            required=True,
            derived_from=("core_funding_reports.amount_gbp",),
        ),
        Column(
            "superseded_because",
            "string",
            "Blank where the figure counts. Otherwise why it is not summed anywhere (area_year, national_totals): "
            "its stream was replaced that year by another whose figure already counts the money "
            "(schemas/vocabulary.py SUCCESSIONS).",
        ),
    ),
    primary_key=("area_code", "stream", "financial_year"),
    foreign_keys=(TO_AREAS, TO_SOURCES, ForeignKey(("report_id",), "funding_reports", ("report_id",))),
)

FUNDING_COVERAGE = Table(
    name="funding_coverage",
    one_row_per="area, stream and year a figure could exist for",
    title="Funding coverage",
    description=(
        "Every area, stream and year for which a Home Office figure could exist, and what is known: VRU and "
        f"Surge/Grip for the VRU areas from their first funded year (Grip to {stream_last_year('surge_grip')}), "
        f"the hotspot fund (from {stream_first_year('hotspot_fund')}) and the Serious Violence Duty grant (from "
        f"{stream_first_year('svd')}) for all 43 areas. Gaps stay gaps."
    ),
    columns=(
        *CELL,
        Column(
            "known",
            "string",
            "What is known: the chosen figure's kind (exact, rounded, lower_bound, "
            "upper_bound), multi_year_only (only a total over several years covers this year), or none.",
            required=True,
            enum=(*AMOUNT_KINDS, "multi_year_only", "none"),
            derived_from=("core_funding_allocations.amount_kind", "core_funding_reports.financial_year_last"),
        ),
        Column("has_conflict", "boolean", "True where the cell's reports conflict.", required=True),
        replace(SOURCE_ID, required=False, description="Source of the chosen figure; blank where none is known."),
    ),
    primary_key=("area_code", "stream", "financial_year"),
    foreign_keys=(TO_AREAS, TO_SOURCES),
)

NATIONAL_TOTALS = Table(
    name="national_totals",
    one_row_per="published national total, with its reconciliation",
    title="National totals and reconciliation",
    description=(
        "National totals published for a stream and year, beside the sum of the known area figures "
        "(funding_allocations) for the areas that stream funded. status is 'reconciles' only when no cell is "
        "missing and the sum agrees with the total; 'incomplete' whenever cells are missing; 'rests_on_flagged' "
        "when it would agree only with figures in doubt (flagged_cells)."
    ),
    columns=(
        Column("total_id", "string", "Identifier: stream, year and source joined by ':'.", required=True, unique=True),
        STREAM,
        Column("financial_year", "string", "Financial year (YYYY-YY).", required=True, pattern=FINANCIAL_YEAR),
        Column(
            "amount_gbp",
            "number",
            "The published total in pounds sterling.",
            title="Amount (GBP)",
            unit="GBP",
            required=True,
            minimum=0,
            derived_from=("raw_local_reports__national_totals.amount_as_published",),
        ),
        Column("amount_kind", "string", AMOUNT_KIND_DESCRIPTION, required=True, enum=AMOUNT_KINDS),
        Column("amount_as_published", "string", "The total as printed.", required=True),
        Column("description", "string", "What the total covers.", required=True),
        SOURCE_ID,
        Column("cells_expected", "integer", "Areas the stream funded that year.", required=True, minimum=0),
        Column("cells_known", "integer", "Of those, areas with a known figure.", required=True, minimum=0),
        Column("cells_missing", "integer", "Of those, areas with no known figure.", required=True, minimum=0),
        Column(
            "sum_known_gbp",
            "number",
            "Sum of the known area figures, in pounds.",
            unit="GBP",
            required=True,
            minimum=0,
            derived_from=("core_funding_allocations.amount_gbp",),
        ),
        Column(
            "status",
            "string",
            "reconciles (every cell known exactly, sum within the total as printed), "
            "consistent (every cell known, some only roughly, ranges meet), rests_on_flagged (as reconciles or "
            "consistent, but only with a figure in flagged_cells), incomplete (cells missing: no "
            "claim is made) or does_not_reconcile.",
            required=True,
            enum=TOTAL_STATUSES,
        ),
        Column(
            "cells_flagged",
            "integer",
            "Of the known cells summed, those whose figure is in doubt: its reports conflict "
            "(funding_allocations.has_conflict) or a plausibility rule flagged it (quality_flags).",
            required=True,
            minimum=0,
        ),
        Column(
            "flagged_cells",
            "string",
            "Those cells, 'area_code (why)' separated by '; '; blank where none.",
        ),
        Column(
            "raw_file",
            "string",
            "File the total was read from, as a path inside the release archive (raw/...).",
            required=True,
        ),
        Column("raw_row", "integer", "Row of that file (header = row 1).", required=True, minimum=2),
    ),
    primary_key=("total_id",),
    foreign_keys=(TO_SOURCES,),
)

LOCAL_POLICING_BODIES = Table(
    name="local_policing_bodies",
    one_row_per="police force area's local policing body",
    title="Local policing bodies",
    description=(
        "The body that holds each territorial force to account: a Police and Crime Commissioner (PCC), a Police, "
        "Fire and Crime Commissioner (PFCC), a mayor exercising those functions, MOPAC in London or the City of "
        "London's police authority. Sources are snapshots: the government has announced plans to abolish PCCs."
    ),
    columns=(
        replace(AREA_CODE, unique=True),
        Column("body_type", "string", "Kind of body, as the compilation words it.", required=True),
        Column("body_name", "string", "Title of the body.", required=True),
        Column(
            "body_name_basis",
            "string",
            "seen (this title seen in a source), type_seen (the role seen, the "
            "title written in the standard pattern) or derived (no area-specific source; PCC assumed from a "
            "general statement).",
            required=True,
            enum=("seen", "type_seen", "derived"),
        ),
        Column(
            "since_as_published",
            "string",
            "When the current arrangement began, as precise as the source "
            "(year, year-month or date); blank where not stated.",
        ),
        Column("source_url", "string", "Page the body's details come from."),
        SOURCE_ID,
    ),
    primary_key=("area_code",),
    foreign_keys=(TO_AREAS, TO_SOURCES),
)

IMPACT_CLAIMS = Table(
    name="impact_claims",
    one_row_per="published national impact figure",
    title="Impact claims",
    description=(
        "Published national figures about what VRUs, Grip and serious violence funding achieved or cost, as "
        "published: values, units, periods and dates as the sources give them. Claims, not verified effects: "
        "see report_claims for verdicts."
    ),
    columns=(
        Column("claim_id", "string", "Identifier (C01...).", required=True, unique=True, pattern=r"C\d{2}"),
        Column("claim", "string", "The claim, paraphrased.", required=True),
        Column("metric", "string", "What is measured.", required=True),
        Column(
            "value_transcribed",
            "string",
            "The value(s) of the claim as transcribed: digits without thousands separators (136000 where the source "
            "printed 136,000), several separated by '; '. The claim column gives the figure as printed.",
        ),
        Column("unit", "string", "Unit of the value."),
        Column("period", "string", "Period the value covers."),
        Column("geography", "string", "Where it applies.", required=True),
        Column("publisher", "string", "Who published the claim.", required=True),
        Column("date_as_published", "string", "Date as known (ISO where known; inferred dates flagged in notes)."),
        Column("source_urls", "string", "Pages the claim comes from, separated by ' ; '.", required=True),
        Column("notes", "string", "Caveats from the compiler."),
        SOURCE_ID,
    ),
    primary_key=("claim_id",),
    foreign_keys=(TO_SOURCES,),
)

REPORT_CLAIMS = Table(
    name="report_claims",
    one_row_per="APCC headline claim, with a verdict",
    title="APCC report claims and verdicts",
    description=(
        "The headline claims of the APCC's 2023 'In Focus' summary on tackling serious violence, each with a "
        "verdict against its primary sources and what those sources say. Verdicts are this project's."
    ),
    columns=(
        Column("claim_id", "string", "Identifier (R01...).", required=True, unique=True, pattern=r"R\d{2}"),
        Column("section", "string", "Section of the summary.", required=True),
        Column("claim_as_stated", "string", "The claim exactly as the summary states it.", required=True),
        Column(
            "verdict",
            "string",
            "supported, supported_with_caveats, misstated (the primary source says "
            "something narrower or different) or not_supported (no primary source bears it out).",
            required=True,
            enum=VERDICTS,
            derived_from=("raw_project__report_claim_verdicts.verdict",),
        ),
        Column("primary_source_says", "string", "What the primary source actually says.", required=True),
        SOURCE_ID,
    ),
    primary_key=("claim_id",),
    foreign_keys=(TO_SOURCES,),
)

REPORT_CLAIM_EVIDENCE = Table(
    name="report_claim_evidence",
    one_row_per="verdict and an impact claim it rests on",
    title="Evidence for each verdict",
    description="Which impact claims each report-claim verdict rests on: one row per pair.",
    columns=(
        Column("claim_id", "string", "The report claim.", required=True),
        Column("impact_claim_id", "string", "An impact claim the verdict rests on.", required=True),
        SOURCE_ID,
    ),
    primary_key=("claim_id", "impact_claim_id"),
    foreign_keys=(
        ForeignKey(("claim_id",), "report_claims", ("claim_id",)),
        ForeignKey(("impact_claim_id",), "impact_claims", ("claim_id",)),
        TO_SOURCES,
    ),
)

EVIDENCE_APPROACHES = Table(
    name="evidence_approaches",
    one_row_per="Youth Endowment Fund Toolkit approach",
    title="Evidence on approaches (Youth Endowment Fund Toolkit)",
    description=(
        "Approaches to preventing youth violence with the Youth Endowment Fund's estimated impact: high (30% or "
        "more less violence), moderate (10-30%), low (2-9%) or no clear evidence. Evidence quality is recorded "
        "only where YEF states it in words; the Toolkit is updated regularly."
    ),
    columns=(
        Column(
            "approach_id",
            "string",
            "Identifier made from the approach's name.",
            required=True,
            unique=True,
            pattern=r"[a-z0-9]+(-[a-z0-9]+)*",
        ),
        Column("approach", "string", "Toolkit approach.", required=True),
        Column(
            "impact_band",
            "string",
            "Estimated impact band (the first band named, where YEF gives two).",
            required=True,
            enum=("high", "moderate", "low", "no_clear_evidence"),
            derived_from=("raw_reference__evidence_ratings.yef_estimated_impact_band",),
        ),
        Column(
            "impact_band_as_published",
            "string",
            "The band as YEF labels it (HIGH, MODERATE, LOW, NO CLEAR EVIDENCE; two bands where YEF gives one per "
            "outcome).",
            required=True,
        ),
        Column("impact_band_definition", "string", "What the band means."),
        Column(
            "impact_figures_summary",
            "string",
            "The average effects YEF reports, summarised in this project's words (figures as YEF gives them; "
            "YEF's pages are under its copyright, so none of their wording is quoted).",
        ),
        Column(
            "evidence_quality_summary",
            "string",
            "How strong YEF finds the evidence, summarised in this project's words, where YEF states it.",
        ),
        Column("source_urls", "string", "YEF pages, separated by ' ; '.", required=True),
        Column("notes", "string", "Caveats from the compiler."),
        SOURCE_ID,
    ),
    primary_key=("approach_id",),
    foreign_keys=(TO_SOURCES,),
)

INITIATIVE_APPROACHES = Table(
    name="initiative_approaches",
    one_row_per="initiative and an approach it uses",
    title="Initiatives and the approaches they use",
    description=(
        "Links each APCC case-study initiative to the Toolkit approaches it uses, so a researcher can ask which "
        "initiatives use approaches with a high estimated impact. The matches are this project's and approximate: "
        "full, partial (part of the initiative matches) or indirect."
    ),
    columns=(
        Column("initiative_id", "string", "The initiative.", required=True),
        Column("approach_id", "string", "The approach.", required=True),
        Column(
            "match",
            "string",
            "How closely the initiative matches the approach.",
            required=True,
            enum=("full", "partial", "indirect"),
        ),
        Column("notes", "string", "Which part of the initiative matches.", required=True),
        SOURCE_ID,
    ),
    primary_key=("initiative_id", "approach_id"),
    foreign_keys=(
        ForeignKey(("initiative_id",), "initiatives", ("initiative_id",)),
        ForeignKey(("approach_id",), "evidence_approaches", ("approach_id",)),
        TO_SOURCES,
    ),
)

# Symbols a source prints instead of a value (see area_outcomes for their meanings).
SYMBOLS = ("-", "+", "..", "NA", "N/A", "u", "c", "[x]")
# Published as `printed_<symbol>`: pandas and R's readr read a bare NA (pandas also N/A) as a missing value, so a
# printed symbol would vanish in a default read. With the prefix every reader keeps it; strip it for the string
# exactly as printed. What a symbol means is the source's to say (its notes differ by edition), not ours.
SYMBOL_PREFIX = "printed_"
SYMBOL_CODES = tuple(SYMBOL_PREFIX + symbol for symbol in SYMBOLS)
SYMBOL_CODE_SQL = f"'{SYMBOL_PREFIX}' || symbol"
SYMBOL_HELP = (
    f"The code is `{SYMBOL_PREFIX}` and the symbol exactly as printed (`{SYMBOL_PREFIX}NA` is the two letters NA): "
    "a bare NA would be read as a missing value by pandas and R. What a symbol means is in the source's notes, which "
    "differ by edition (in the ONS police force area tables, '..' is data not available and '+' a rate suppressed "
    "for the City of London's small population)."
)
EDITION = Column(
    "edition",
    "string",
    "The raw file (edition) the value comes from: ons__homicide_offences_<date> for an ONS Explore Local "
    "Statistics edition, ons__pfa_ye_<month><year>_table_<table> for an ONS police force area table.",
    required=True,
)
EDITION_DATE = Column(
    "edition_date",
    "date",
    "Orders the editions of one statistic: the publication date of an Explore Local Statistics edition, the "
    "end of the reference year in the title of an ONS police force area edition.",
    required=True,
)
OUTCOME_MEASURES = (
    "homicide_rate_per_million",
    "violence_with_injury_offences",
    "violence_without_injury_offences",
    "homicide_offences",
    "violence_with_injury_rate_per_1000",
    "violence_without_injury_rate_per_1000",
    "homicide_rate_per_1000",
    "population",
    "knife_homicide_offences",
    "knife_selected_offences",
    "possession_of_weapons_offences",
)

# One spelling per period (core.period_iso in core_area_outcomes.sql), so that editions join on it.
PERIOD_PATTERN = r"\d{4}-\d{2}-\d{2}(/P\d+[YM])?"
PERIOD = Column(
    "period",
    "string",
    "The period in one form whatever the edition prints (ISO 8601, first day and length): '2019-04-01/P3Y' for "
    "'2019-04-01/P3Y' and '2019-04-01T00:00:00/P3Y' alike, '2024-07-01/P1Y' for 'year ending June 2025', "
    "'2017-04-01/P1Y' for 'year ending March 2018' and \"Apr '17 to Mar '18\", the day alone for a mid-year "
    "population ('2017-06-30'). Join editions on this, not on period_as_published.",
    required=True,
    pattern=PERIOD_PATTERN,
    pattern_hint="an ISO 8601 date, or a date and a length like '2019-04-01/P3Y'",
)
# Where a published value was read: an auditor opens the file at the row (a CSV) or the cell (a workbook).
RAW_CELL_COLUMNS = (
    Column(
        "raw_file",
        "string",
        "File the value was read from, as a path inside the release archive (raw/...; raw/sources.yaml there says "
        "where and when it was obtained).",
        required=True,
    ),
    Column(
        "raw_row",
        "integer",
        "Row of that file the value is on, as a spreadsheet numbers it (a CSV's header row counts; in a workbook, "
        "the sheet's own row).",
        required=True,
        minimum=1,
    ),
    # No pattern: frictionless' SQLite export checks a pattern with a REGEXP function that fails on a blank cell.
    Column(
        "raw_cell",
        "string",
        "For a value read from a workbook, its sheet and cell as a spreadsheet names them ('Table P1!G10', the "
        "sheet name without the trailing spaces some sheets have); blank for a CSV, where the value is on raw_row "
        "in the column the measure is read from (raw/mappings/outcome_measures.csv; Observation in an Explore "
        "Local Statistics file).",
    ),
)

AREA_OUTCOMES = Table(
    name="area_outcomes",
    one_row_per="area, measure, period and edition of an official statistic",
    title="Outcome statistics by area",
    description=(
        "Official statistics on violence by police force area, one row per area, measure, period and edition "
        "(later editions revise earlier periods, so the edition is part of the key): ONS homicide rates per "
        "million over three-year rolling periods, and from the ONS police force area tables police recorded "
        "violence with and without injury and homicide (counts and rates per 1,000), mid-year population, and "
        "knife or sharp instrument offences. A cell the source filled with a symbol keeps the symbol and no "
        "value: - base fewer than 50 (or unexplained), + suppressed (City of London rates), .. not available, "
        "NA / N/A not available, u unavailable, c confidential (ONS Explore Local Statistics), [x] unavailable "
        "(ONS tables from 2025). Never a zero."
    ),
    columns=(
        replace(AREA_CODE, unique=False),
        Column(
            "measure",
            "string",
            "What is measured (see raw/mappings/outcome_measures.csv for each source column).",
            required=True,
            enum=OUTCOME_MEASURES,
        ),
        Column(
            "period_as_published",
            "string",
            "The period as published (homicide rates in ISO 8601: "
            "'2019-04-01/P3Y' is April 2019 to March 2022; 'mid-2017' for population).",
            required=True,
        ),
        Column(
            "period_first_year",
            "string",
            "First financial year of the period; blank for calendar years and mid-year populations.",
            enum=OUTCOME_YEARS,
        ),
        Column("period_last_year", "string", "Last financial year of the period; blank as above.", enum=OUTCOME_YEARS),
        Column(
            "period_start",
            "date",
            "First day of the period: 2024-07-01 for 'year ending June 2025' (a rolling year, not a financial "
            "year), 2019-04-01 for '2019-04-01/P3Y'; for a mid-year population, the day it refers to.",
            required=True,
        ),
        Column("period_end", "date", "Last day of the period (30 June for a mid-year population).", required=True),
        PERIOD,
        EDITION,
        EDITION_DATE,
        Column("value", "number", "The value as published; blank where the source printed a symbol.", decimals=24),
        Column(
            "value_as_published",
            "string",
            "The number exactly as the source stores it (its digits); blank where the source printed a symbol instead.",
            published_as="CASE WHEN symbol IS NULL THEN value_as_published END",
        ),
        Column("unit", "string", "Unit of the measure.", required=True),
        Column(
            "symbol",
            "string",
            "The symbol printed instead of a value. " + SYMBOL_HELP,
            enum=SYMBOL_CODES,
            published_as=SYMBOL_CODE_SQL,
        ),
        SOURCE_ID,
        *RAW_CELL_COLUMNS,
    ),
    primary_key=("area_code", "measure", "period_as_published", "edition"),
    foreign_keys=(TO_AREAS, TO_SOURCES),
)

AREA_POPULATIONS = Table(
    name="area_populations",
    one_row_per="police force area and mid-year",
    title="Population by area and mid-year",
    description=(
        "Each police force area's population on 30 June of every year from 2011 to 2023: the sum of its local "
        "authority districts (2023 boundaries) in the ONS mid-year estimates (sheet MYE4), each district placed in "
        "the area the ONS December 2023 lookup gives it. Checked in the pipeline: every district lies in exactly one "
        "area (else the run stops), the areas add up to the England and Wales total the workbook prints for each "
        "mid-year (else the run stops), and each area against the population Table P3 of the ONS police force area "
        "tables printed for mid-2016 to mid-2018 (a warning in quality_flags beyond the declared tolerance). These "
        "estimates were rebased after Census 2021, so they differ slightly from Table P3 (see area_outcomes): use "
        "one series, not a mix."
    ),
    columns=(
        replace(AREA_CODE, unique=False),
        Column("mid_year", "integer", "The year of the estimate (30 June).", required=True, minimum=2011),
        Column("reference_date", "date", "The day the estimate refers to (30 June of mid_year).", required=True),
        Column("population", "integer", "Usual residents, all ages, summed from the districts.", required=True),
        Column("districts", "integer", "How many districts were summed.", required=True, minimum=1),
        Column("derivation", "string", "How the figure was derived.", required=True),
        Column(
            "raw_cells",
            "string",
            "The cells of the mid-year estimates workbook that were added ('MYE4!D12 + MYE4!D13'), in sheet order.",
            required=True,
        ),
        replace(SOURCE_ID, description="The mid-year estimates the districts' figures come from (ONS_MYE)."),
        Column(
            "lookup_source_id",
            "string",
            "The district-to-area lookup that placed the districts; resolves to a row of sources.",
            required=True,
        ),
    ),
    primary_key=("area_code", "mid_year"),
    foreign_keys=(TO_AREAS, TO_SOURCES, ForeignKey(("lookup_source_id",), "sources", ("source_id",))),
)

AREA_OUTCOME_RATES = Table(
    name="area_outcome_rates",
    one_row_per="count of offences in area_outcomes (area, measure, period and edition) that has a population",
    title="Recorded offences per 1,000 people",
    description=(
        "Every count of recorded offences in area_outcomes over a one-year period, as a rate per 1,000 people on "
        f"the area's population in area_populations. The population used is {POPULATION_RULE}. A count the source "
        "printed as a symbol has no rate. These rates use the estimates rebased after Census 2021, so they differ "
        "slightly from the rates ONS printed in its tables (area_outcomes, on the populations of the time)."
    ),
    columns=(
        replace(AREA_CODE, unique=False),
        Column(
            "measure",
            "string",
            "The count (area_outcomes.measure).",
            required=True,
            enum=tuple(m for m in OUTCOME_MEASURES if m.endswith("_offences")),
        ),
        Column("period_as_published", "string", "The period as published (area_outcomes).", required=True),
        Column("period_start", "date", "First day of the period.", required=True),
        Column("period_end", "date", "Last day of the period.", required=True),
        EDITION,
        EDITION_DATE,
        Column(
            "offences",
            "integer",
            "The count (area_outcomes.value).",
            required=True,
            minimum=0,
            derived_from=("area_outcomes.value",),
        ),
        Column(
            "population_mid_year",
            "integer",
            "The mid-year of the population used (the 30 June inside the period).",
            required=True,
            derived_from=("area_populations.mid_year",),
        ),
        Column(
            "population",
            "integer",
            "The area's population at that mid-year.",
            required=True,
            derived_from=("area_populations.population",),
        ),
        Column(
            "rate_per_1000",
            "number",
            "offences x 1,000 / population, to four places.",
            required=True,
            minimum=0,
            decimals=4,
            derived_from=("area_outcomes.value", "area_populations.population"),
        ),
        replace(SOURCE_ID, description="The document the count comes from; resolves to a row of sources."),
        Column(
            "population_source_id",
            "string",
            "The document the population comes from; resolves to a row of sources.",
            required=True,
            derived_from=("area_populations.source_id",),
        ),
    ),
    primary_key=("area_code", "measure", "period_as_published", "edition"),
    foreign_keys=(TO_AREAS, TO_SOURCES, ForeignKey(("population_source_id",), "sources", ("source_id",))),
)

NOTE_KIND_HELP = (
    "under_count (the publisher says the force's figures are short: a recording system or review found "
    "offences missed, data not supplied), estimated (estimated or imputed for missing months), not_comparable (the "
    "force counts something others do not), revised (figures revised since an earlier edition), provisional (may "
    "change), includes_event (the year's homicides include one event's victims), explains_symbol (what a symbol the "
    "force's cells print means), general (says nothing of the force's figures: a marker misplaced on its name)"
)
SOURCE_NOTES = Table(
    name="source_notes",
    one_row_per="numbered footnote printed under an ONS police force area table, per edition",
    title="The publishers' notes under the ONS tables",
    description=(
        "Every numbered footnote printed under the ONS police force area tables the package reads (Tables P1, P3, "
        "P4, P5 and P9 of each workbook), read from its cell exactly as printed. Where a note says a force's figures "
        "are under-counted, estimated, not comparable, revised, provisional or include one event, this project's "
        "reading (raw/mappings/source_note_coverage.csv, each row citing the note's cell) gives its kind and the "
        "areas, measures and periods it covers, only as far as the note's words set them; source_note_values links "
        "the note to those values. A note with no kind is general (a definition, a source line, a national "
        "figure). The workbooks' Notes sheets list only their tables and contacts."
    ),
    columns=(
        Column(
            "note_id",
            "string",
            "The edition and the note's cell: 'ons__pfa_ye_dec2019:Table P5!A70'.",
            required=True,
            unique=True,
        ),
        EDITION,
        Column("raw_file", "string", "The workbook, as a path inside the release archive.", required=True),
        Column("source_table", "string", "The table (sheet) the note is printed under.", required=True),
        Column(
            "note_number",
            "integer",
            "The note's number as printed (the marker on names points at it).",
            required=True,
            minimum=1,
        ),
        Column("note_cell", "string", "The note's sheet and cell ('Table P5!A70').", required=True),
        Column("note_text", "string", "The note exactly as the cell holds it.", required=True),
        Column(
            "kind",
            "string",
            "What the note says of the values it covers: " + NOTE_KIND_HELP + "; blank for a general note.",
            enum=tuple(NOTE_KINDS),
        ),
        Column(
            "area_codes",
            "string",
            "Areas the note names, ';'-separated (ONS codes; where the note names no force, "
            "the area its marker sits on).",
        ),
        Column("measures", "string", "Measures of area_outcomes the note concerns in its table, ';'-separated."),
        Column(
            "covers",
            "string",
            "Which periods: all (every period of the table), overlapping or within the dates "
            "the note's words set (covers_from, covers_until).",
            enum=("all", "overlapping", "within"),
        ),
        Column("covers_from", "date", "First day the note's words set; blank where open."),
        Column("covers_until", "date", "Last day the note's words set; blank where open."),
        Column(
            "excluded_from_comparisons",
            "boolean",
            "Whether the excluding_flagged_and_noted comparisons leave "
            "out the values this note covers (under_count, estimated, not_comparable).",
            required=True,
        ),
        SOURCE_ID,
    ),
    primary_key=("note_id",),
    foreign_keys=(TO_SOURCES,),
)

SOURCE_NOTE_VALUES = Table(
    name="source_note_values",
    one_row_per="publisher's note and area_outcomes value it covers",
    title="Values the publishers' notes cover",
    description=(
        "Links each note of source_notes that has a kind to the area_outcomes values it covers: a value of the "
        "note's own table (its raw_cell is on the same sheet), edition, area and measure, in the periods the note "
        "sets. A rate of area_outcome_rates computed from a linked count has the count's key (area_code, measure, "
        "period_as_published, edition) and carries the same note. The excluding_flagged_and_noted variants of "
        "outcome_comparison, outcome_group_rates and outcome_change_by_group leave out the values whose note has "
        "excluded_from_comparisons."
    ),
    columns=(
        Column("note_id", "string", "The note (source_notes.note_id).", required=True),
        Column("kind", "string", "The note's kind (see source_notes).", required=True, enum=tuple(NOTE_KINDS)),
        Column("excluded_from_comparisons", "boolean", "As in source_notes.", required=True),
        replace(AREA_CODE, unique=False),
        Column("measure", "string", "The value's measure.", required=True, enum=OUTCOME_MEASURES),
        Column("period_as_published", "string", "The value's period as published.", required=True),
        PERIOD,
        EDITION,
        Column("value", "number", "The value (blank where the source printed a symbol).", decimals=24),
        Column("raw_cell", "string", "The value's sheet and cell in the workbook.", required=True),
        SOURCE_ID,
    ),
    primary_key=("note_id", "area_code", "measure", "period_as_published"),
    foreign_keys=(
        TO_AREAS,
        TO_SOURCES,
        ForeignKey(("note_id",), "source_notes", ("note_id",)),
        ForeignKey(
            ("area_code", "measure", "period_as_published", "edition"),
            "area_outcomes",
            ("area_code", "measure", "period_as_published", "edition"),
        ),
    ),
)

OUTCOME_COMPARISON = Table(
    name="outcome_comparison",
    one_row_per="measure, period, edition, group of areas (VRU or not) and variant",
    title="VRU areas and the others: outcome comparison (descriptive)",
    description=(
        "The areas with a Violence Reduction Unit (grouped by first funded year) against the other areas: per "
        "homicide-rate period, and for knife or sharp instrument offences in the last three years before VRU "
        "funding began (2016-17 to 2018-19), each edition apart, in three variants: all_values; "
        "excluding_flagged (without the values a plausibility rule flagged in quality_flags); and "
        "excluding_flagged_and_noted (also without the values a publisher's note says are under-counted, estimated "
        "or not comparable: source_note_values). How many areas have "
        "a value and how many of those values are flagged, the sum, unweighted mean and median of their values, "
        "the mean weighted by population (rates), and which areas are left out (for counts, each group's rate per "
        "1,000 people is in outcome_group_rates). Descriptive, not causal: the VRU areas "
        "were chosen for their high levels of serious violence; the homicide rate counts all methods over rolling "
        "three-year periods; Greater Manchester's knife figures before 2018 are under-counts and are missing (NA) "
        "in the December 2019 edition."
    ),
    columns=(
        Column("measure", "string", "What is measured (see area_outcomes).", required=True, enum=OUTCOME_MEASURES),
        Column("period_as_published", "string", "The period as published.", required=True),
        PERIOD,
        Column(
            "period_first_year", "string", "First financial year of the period.", required=True, pattern=FINANCIAL_YEAR
        ),
        Column(
            "period_last_year", "string", "Last financial year of the period.", required=True, pattern=FINANCIAL_YEAR
        ),
        Column("edition", "string", "The raw file (edition) the values come from.", required=True),
        Column(
            "area_group",
            "string",
            "vru_from_2019-20 (the first 18 VRU areas), vru_from_2022-23 (Cleveland "
            "and Humberside) or no_vru (the other 23 areas).",
            required=True,
            enum=AREA_GROUPS,
        ),
        Column(
            "variant",
            "string",
            "all_values: every value the edition gives; excluding_flagged: the values a plausibility rule flagged "
            "(quality_flags) left out; excluding_flagged_and_noted: also the values a publisher's note says are "
            "under-counted, estimated or not comparable (source_note_values) left out, whatever a threshold says. "
            "Where the variants differ, the flagged or noted values move the result.",
            required=True,
            enum=VARIANTS,
        ),
        Column("n_areas", "integer", "Areas in the group whose value is used.", required=True, minimum=0),
        Column("n_areas_left_out", "integer", "Areas in the group whose value is not used.", required=True, minimum=0),
        Column(
            "n_flagged_values_used",
            "integer",
            "How many of the values used carry a plausibility flag (quality_flags); 0 in the excluding_flagged "
            "variants. A comparison with flagged values in it says so here.",
            required=True,
            minimum=0,
        ),
        Column(
            "areas_left_out",
            "string",
            "Those areas, with why: the symbol printed instead of a value, an ONS caveat, or the flags.",
        ),
        Column(
            "sum_value",
            "number",
            "Sum of the areas' values (meaningful for counts), rounded to 2 places.",
            minimum=0,
            derived_from=("core_area_outcomes.value",),
        ),
        Column(
            "mean_value",
            "number",
            "Unweighted mean of the areas' values, rounded to 2 places.",
            minimum=0,
            derived_from=("core_area_outcomes.value",),
        ),
        Column(
            "median_value",
            "number",
            "Median of the areas' values, rounded to 2 places.",
            minimum=0,
            derived_from=("core_area_outcomes.value",),
        ),
        Column(
            "mean_weighted_by_population_mid2018",
            "number",
            "Rates only: the mean of the areas' rates weighted by each area's mid-2018 population (ONS PFA tables, "
            "December 2019 edition), the latest population in hand, used for every period; blank for counts.",
            minimum=0,
            derived_from=("core_area_outcomes.value",),
        ),
        SOURCE_ID,
    ),
    primary_key=("measure", "period_as_published", "edition", "area_group", "variant"),
    foreign_keys=(TO_SOURCES,),
)

OUTCOME_GROUP_RATES = Table(
    name="outcome_group_rates",
    one_row_per="count, one-year period, edition, group of areas (VRU or not) and variant of outcome_comparison",
    title="VRU areas and the others: offences per 1,000 people (descriptive)",
    description=(
        "The counts of outcome_comparison over one year (knife or sharp instrument offences 2016-17 to 2018-19) as "
        "each group's rate per 1,000 people: the group's offences over the summed populations (area_populations) of "
        f"the same areas, in each variant (all_values, excluding_flagged, excluding_flagged_and_noted). The "
        f"population used is {POPULATION_RULE}. "
        "A group with an area whose population is not in hand has no row. The groups differ in size, so their "
        "counts alone mislead; descriptive, not causal."
    ),
    columns=(
        Column("measure", "string", "The count (see area_outcomes).", required=True, enum=OUTCOME_MEASURES),
        Column("period_as_published", "string", "The period as published.", required=True),
        Column("period_first_year", "string", "First financial year of the period.", enum=OUTCOME_YEARS),
        EDITION,
        Column("area_group", "string", "Group of areas (see outcome_comparison).", required=True, enum=AREA_GROUPS),
        Column(
            "variant",
            "string",
            "all_values, excluding_flagged or excluding_flagged_and_noted (see outcome_comparison).",
            required=True,
            enum=VARIANTS,
        ),
        Column("n_areas", "integer", "Areas whose counts are summed.", required=True, minimum=1),
        Column(
            "offences",
            "integer",
            "The group's offences (outcome_comparison.sum_value).",
            required=True,
            minimum=0,
            derived_from=("core_area_outcomes.value",),
        ),
        Column(
            "population_mid_year",
            "integer",
            "The mid-year of the populations used (the 30 June inside the period).",
            required=True,
            derived_from=("area_populations.mid_year",),
        ),
        Column(
            "population",
            "integer",
            "The same areas' summed population at that mid-year.",
            required=True,
            derived_from=("area_populations.population",),
        ),
        Column(
            "rate_per_1000",
            "number",
            "offences x 1,000 / population, to four places.",
            required=True,
            minimum=0,
            decimals=4,
            derived_from=("core_area_outcomes.value", "area_populations.population"),
        ),
        replace(SOURCE_ID, description="The document the counts come from; resolves to a row of sources."),
    ),
    primary_key=("measure", "period_as_published", "edition", "area_group", "variant"),
    foreign_keys=(TO_SOURCES,),
)

OUTCOME_REVISIONS = Table(
    name="outcome_revisions",
    one_row_per="area, measure and period an earlier edition also gives: old and new value",
    title="Revisions of outcome values between editions",
    description=(
        "Each outcome value beside the same area's value for the same measure and period in the most recent "
        "earlier edition of the statistic (editions ordered by edition_date): the earlier and later value, the "
        "change and the percentage change, and the file and row (or workbook cell) each value was read from. ONS "
        "revises figures between editions (homicides are reclassified as cases are decided); a value that moves by "
        "more than the tolerance of the rule revision_within_tolerance, settled or the earlier edition's newest "
        "period, is flagged in quality_flags."
    ),
    columns=(
        replace(AREA_CODE, unique=False),
        Column("measure", "string", "What is measured (see area_outcomes).", required=True, enum=OUTCOME_MEASURES),
        Column("period_first_year", "string", "First financial year of the period.", required=True, enum=OUTCOME_YEARS),
        Column("period_last_year", "string", "Last financial year of the period.", required=True, enum=OUTCOME_YEARS),
        Column("period_as_published", "string", "The period as the later edition prints it.", required=True),
        PERIOD,
        Column("edition_old", "string", "The earlier edition.", required=True),
        Column("edition_new", "string", "The later edition.", required=True),
        Column("value_old", "number", "The value in the earlier edition.", required=True, decimals=24),
        Column("value_new", "number", "The value in the later edition.", required=True, decimals=24),
        Column("change", "number", "value_new minus value_old.", required=True, decimals=6),
        Column(
            "percent_change",
            "number",
            "The change as a percentage of value_old, rounded to 2 places; blank where value_old is 0.",
        ),
        Column(
            "is_settled",
            "boolean",
            "True where the period was not the newest period of the earlier edition (ONS revises its newest "
            "figures as a matter of course).",
            required=True,
        ),
        replace(SOURCE_ID, description="The later edition's source; resolves to a row of sources."),
        *(
            replace(
                column,
                name=f"{column.name}_{which}",
                description=f"{column.description} Here for the {edition} edition's value.",
            )
            for which, edition in (("old", "earlier"), ("new", "later"))
            for column in RAW_CELL_COLUMNS
        ),
    ),
    primary_key=("area_code", "measure", "period_first_year", "period_last_year", "edition_new"),
    foreign_keys=(TO_AREAS, TO_SOURCES),
)

QUALITY_FLAGS = Table(
    name="quality_flags",
    one_row_per="value a plausibility rule flagged, with what the package did",
    title="Quality flags: values that are well-formed but implausible",
    description=(
        "Every value a plausibility rule flagged: a revision between editions beyond tolerance, a rate far "
        "outside its peers, a rate that its area's own counts contradict, a single-source funding figure that "
        "breaks the area's pattern, a multi-year total equal to one year's figure, a figure above its national "
        "total. One row per rule and value, with what was observed, what was expected, why, and what the package "
        "did with it. The rules and their thresholds are declared in schemas/plausibility.py; each also runs as "
        "an asset check in the pipeline. Severity warn: published with the flag, for a person to judge; error "
        "(an impossible value) stops the build, so a published package has none."
    ),
    columns=(
        Column(
            "flag_id", "string", "Rule, area, subject, period and edition, joined by ':'.", required=True, unique=True
        ),
        Column(
            "check_name",
            "string",
            "The plausibility rule (schemas/plausibility.py).",
            required=True,
            enum=tuple(rule.name for rule in RULES),
        ),
        Column("severity", "string", "warn or error.", required=True, enum=SEVERITIES),
        Column(
            "table_name",
            "string",
            "The published table that holds the flagged value.",
            required=True,
            enum=tuple(sorted({rule.table for rule in RULES})),
        ),
        replace(OPTIONAL_AREA_CODE, description="The area of the flagged value; blank for a national figure."),
        Column("subject", "string", "The measure, funding stream or table column flagged.", required=True),
        Column("period", "string", "The period as published, or the financial year."),
        Column(
            "edition",
            "string",
            "Where the value is: the edition of an outcome value (area_outcomes.edition), the report_id of a "
            "funding figure, or the total_id of a national total.",
            required=True,
        ),
        Column("observed", "string", "The flagged value, as a reader can check it against the source.", required=True),
        Column("expected", "string", "The range or value it was checked against.", required=True),
        Column("explanation", "string", "What the rule tests and why, and what was compared here.", required=True),
        Column("action", "string", "What the package did with the value.", required=True),
        replace(SOURCE_ID, description="The document the flagged value comes from; resolves to a row of sources."),
    ),
    primary_key=("flag_id",),
    foreign_keys=(TO_AREAS, TO_SOURCES),
)

# Which counts are compared before and after VRU funding, and which periods count as before and after.
# The first VRUs were funded from April 2019 to March 2020; a year-long period that ends by December 2019
# counts as before (the rolling years of 2019 overlap the first months of funding: say so, don't hide it),
# one that starts after the first funded year counts as after.
OUTCOME_CHANGE = {
    "measures": (
        "violence_with_injury_offences",
        "violence_without_injury_offences",
        "homicide_offences",
        "possession_of_weapons_offences",
    ),
    "before_ends_by": "2019-12-31",
    "after_starts_from": "2020-04-01",
}
CHANGE_CAVEAT = (
    "Recorded crime, not the true level of violence: police recording practice changed between the periods "
    "(ONS notes several changes, among them the Home Office counting rules for conduct crimes in May 2023), so a "
    "change is not a measure of what VRUs did. The after period is a rolling year (July 2024 to June 2025), "
    "the before periods financial years. No population for mid-2025 (the 30 June inside the after period) is in "
    "hand (area_populations ends at mid-2023), so that year has counts, no rates; outcome_change_by_group gives a "
    "group's rates per 1,000 for each period whose own mid-year population is in hand, and says which is missing."
)


def _change_columns(*, area: bool) -> tuple[Column, ...]:
    """Columns shared by the change tables: the two periods, the counts and the change."""
    return (
        Column(
            "measure",
            "string",
            "The count compared (see area_outcomes).",
            required=True,
            enum=tuple(OUTCOME_CHANGE["measures"]),
        ),
        Column("before_edition", "string", "Edition of the before value (area_outcomes.edition).", required=True),
        Column("before_period", "string", "The before period as published.", required=True),
        Column("after_edition", "string", "Edition of the after value.", required=True),
        Column("after_period", "string", "The after period as published (a rolling year).", required=True),
        Column(
            "value_before",
            "number",
            "Offences recorded in the before period" + ("." if area else ", summed over the areas used."),
            decimals=0,
        ),
        Column(
            "value_after",
            "number",
            "Offences recorded in the after period" + ("." if area else ", summed over the areas used."),
            decimals=0,
        ),
        Column("change", "number", "value_after minus value_before.", decimals=0),
        Column("percent_change", "number", "The change as a percentage of value_before, rounded to 2 places."),
    )


def _change_rate_columns() -> tuple[Column, ...]:
    """The group's counts as rates per 1,000 people, each period on the population of its own mid-year. Published:
    the before rate, and the after period's mid-year with why it has no rate. The after rate and the change in the
    rate are computed beside them (core.outcome_change_by_group: population_after, rate_per_1000_after,
    rate_percent_change) but not published while no after period has its mid-year population: a column empty in
    every row is one no reader's default read can type (as with area_year's hotspot per head)."""
    return (
        Column(
            "population_mid_year_before",
            "integer",
            f"The mid-year of the populations the before rate uses: {POPULATION_RULE}.",
            derived_from=("area_populations.mid_year",),
        ),
        Column(
            "population_before",
            "integer",
            "The summed population at that mid-year of the areas whose before counts are summed; blank unless "
            "area_populations has it for every one of them (a group's rate never rests on part of its people).",
            minimum=0,
            derived_from=("area_populations.population",),
        ),
        Column(
            "rate_per_1000_before",
            "number",
            "value_before x 1,000 / population_before, to four places; blank where population_before is.",
            minimum=0,
            decimals=4,
            derived_from=("core_area_outcomes.value", "area_populations.population"),
        ),
        Column(
            "population_mid_year_after",
            "integer",
            f"The mid-year an after rate would use: {POPULATION_RULE}.",
            derived_from=("area_populations.mid_year",),
        ),
        Column(
            "rate_missing_because",
            "string",
            "Why the comparison has no rate for a period: which mid-year population is not in area_populations "
            "(none is estimated). The after rate and the change in the rate are published once an after period "
            "has its own mid-year population.",
        ),
    )


OUTCOME_CHANGE_BY_AREA = Table(
    name="outcome_change_by_area",
    one_row_per="measure, area and pair of editions: a year before VRU funding and one after",
    title="Recorded offences before and after VRU funding, by area (descriptive)",
    description=(
        "Each police force area's recorded offences in a year before VRU funding (every ONS edition from the year "
        "ending March 2018 to the year ending December 2019, whose last months overlap the first funded year) "
        "against the year ending June 2025, for violence with injury, violence without injury, homicide and "
        "possession of weapons offences, every pair of editions. " + CHANGE_CAVEAT
    ),
    columns=(
        replace(AREA_CODE, unique=False),
        *_change_columns(area=True),
        Column("before_start", "date", "First day of the before period.", required=True),
        Column("before_end", "date", "Last day of the before period.", required=True),
        Column("after_start", "date", "First day of the after period.", required=True),
        Column("after_end", "date", "Last day of the after period.", required=True),
        Column(
            "symbol",
            "string",
            "The symbol either edition printed instead of a value; the change is then blank. " + SYMBOL_HELP,
            enum=SYMBOL_CODES,
            published_as=SYMBOL_CODE_SQL,
        ),
        replace(SOURCE_ID, description="The after edition's source; resolves to a row of sources."),
        *(
            replace(
                column, name=f"{column.name}_{which}", description=f"{column.description} Here for the {which} value."
            )
            for which in ("before", "after")
            for column in RAW_CELL_COLUMNS
        ),
    ),
    primary_key=("measure", "area_code", "before_edition", "after_edition"),
    foreign_keys=(TO_AREAS, TO_SOURCES),
)

OUTCOME_CHANGE_BY_GROUP = Table(
    name="outcome_change_by_group",
    one_row_per="measure, pair of editions, group of areas and variant",
    title="Recorded offences before and after VRU funding: VRU areas and the others (descriptive)",
    description=(
        "The areas with a Violence Reduction Unit (by first funded year) against the other areas: summed recorded "
        "offences before and after, the change and the percentage change, over the areas with a value in both "
        "periods; in three variants, all_values, excluding_flagged and excluding_flagged_and_noted. Descriptive, "
        "not causal: the VRU areas were "
        "chosen for their high levels of serious violence. " + CHANGE_CAVEAT
    ),
    columns=(
        *_change_columns(area=False)[:5],
        Column(
            "area_group",
            "string",
            ", ".join(AREA_GROUPS[:-1]) + f" or {AREA_GROUPS[-1]}.",
            required=True,
            enum=AREA_GROUPS,
        ),
        Column(
            "variant",
            "string",
            "all_values; excluding_flagged (areas whose values or change a plausibility rule flagged left out); or "
            "excluding_flagged_and_noted (also areas whose before or after value a publisher's note says is "
            "under-counted, estimated or not comparable: source_note_values).",
            required=True,
            enum=VARIANTS,
        ),
        Column("n_areas", "integer", "Areas summed.", required=True, minimum=0),
        Column("n_areas_left_out", "integer", "Areas of the group not summed.", required=True, minimum=0),
        Column(
            "n_flagged_values_used",
            "integer",
            "How many of the areas summed carry a plausibility flag on these values; 0 in the excluding_flagged "
            "variants.",
            required=True,
            minimum=0,
        ),
        Column("areas_left_out", "string", "Those areas, with why (a symbol, or the flags)."),
        *_change_columns(area=False)[5:],
        replace(SOURCE_ID, description="The after edition's source; resolves to a row of sources."),
        *_change_rate_columns(),
    ),
    primary_key=("measure", "before_edition", "after_edition", "area_group", "variant"),
    foreign_keys=(TO_SOURCES,),
)

# The panel's outcome columns: recorded counts ONS prints per financial year (the rolling year ending March).
PANEL_MEASURES = (
    "violence_with_injury_offences",
    "violence_without_injury_offences",
    "possession_of_weapons_offences",
    "homicide_offences",
    "knife_selected_offences",
)
PANEL_YEARS = OUTCOME_YEARS


def _panel_source(prefix: str, value: str, derived_from: str) -> Column:
    """`<prefix>_source_id`, the source of the panel's column `value`: blank where the value is."""
    return replace(
        SOURCE_ID,
        name=f"{prefix}_source_id",
        description=f"Source of {value}; resolves to a row of sources.",
        title="",
        required=False,
        derived_from=(derived_from,),
    )


def panel_columns() -> tuple[Column, ...]:
    columns: list[Column] = []
    for stream in STREAMS:
        columns += [
            Column(
                f"{stream}_gbp",
                "number",
                f"The {stream} figure chosen for the area and year (funding_allocations.amount_gbp); blank where "
                "no source gives one.",
                unit="GBP",
                derived_from=("funding_allocations.amount_gbp",),
            ),
            Column(
                f"{stream}_known",
                "string",
                f"What is known of the {stream} figure (funding_coverage.known): exact, rounded, a bound, "
                "multi_year_only (only a total over several years), none (the stream ran, no figure found), "
                "superseded (a figure exists but another stream replaced this one that year: "
                "funding_allocations.superseded_because, which keeps the figure and its source; both are left out "
                "here so that the streams of a row add up); blank where funding_coverage has no cell for the area "
                "and year.",
                enum=(*AMOUNT_KINDS, "multi_year_only", "none", "superseded"),
                derived_from=("funding_coverage.known",),
            ),
            _panel_source(stream, f"{stream}_gbp", "funding_allocations.source_id"),
        ]
    for measure in PANEL_MEASURES:
        columns += [
            Column(
                measure,
                "integer",
                f"Recorded {measure.replace('_', ' ')} in the financial year (area_outcomes.value for the year "
                "April to March), from the newest ONS edition that prints the year; blank where that edition "
                "printed a symbol (see area_outcomes) or no edition covers the year.",
                derived_from=("area_outcomes.value",),
            ),
            Column(
                f"{measure}_edition",
                "string",
                f"The edition (area_outcomes.edition) {measure} comes from.",
                derived_from=("area_outcomes.edition",),
            ),
            _panel_source(measure, measure, "area_outcomes.source_id"),
        ]
    columns += [
        Column(
            "per_head_population_mid_year",
            "integer",
            f"The mid-year of the population the per-head figures use: {POPULATION_RULE}.",
            derived_from=("area_populations.mid_year",),
        ),
        Column(
            "per_head_population",
            "integer",
            "The area's population at that mid-year (area_populations.population); blank where none is in hand.",
            derived_from=("area_populations.population",),
        ),
        _panel_source("per_head_population", "per_head_population", "area_populations.source_id"),
    ]
    columns += [
        Column(
            f"{stream}_gbp_per_head",
            "number",
            f"{stream}_gbp divided by per_head_population: pounds per person, to four places; blank where either is "
            "blank. "
            f"Of the chosen figure, so a bound stays a bound ({stream}_known).",
            unit="GBP per person",
            decimals=4,
            derived_from=("funding_allocations.amount_gbp", "area_populations.population"),
        )
        for stream in PER_HEAD_STREAMS
    ]
    return tuple(columns)


AREA_YEAR = Table(
    name="area_year",
    one_row_per="police force area and financial year (a panel of funding and outcomes)",
    title="Area by financial year: funding beside recorded outcomes",
    description=(
        "A panel for analysis: every police force area and financial year from 2010-11 to 2025-26, with the "
        "funding figure chosen for each stream (and what is known of it) beside the recorded offences ONS prints "
        "for that financial year, each value with its source. Built from funding_allocations, funding_coverage "
        "and area_outcomes, which hold the detail (conflicts, every edition, symbols), and each stream's figure per "
        "person on the area's population (area_populations) for the mid-year inside the financial year. Outcomes by "
        "financial year exist only up to 2018-19 in the editions in hand (later ONS figures here are rolling years "
        "that do not match a financial year), so the funded years have no outcome in this panel: see "
        "outcome_change_by_area for the before-and-after comparison. Descriptive; blank is a gap, never a zero."
    ),
    columns=(
        replace(AREA_CODE, unique=False),
        Column(
            "financial_year",
            "string",
            "Financial year, April to March.",
            required=True,
            enum=PANEL_YEARS,
        ),
        *panel_columns(),
    ),
    primary_key=("area_code", "financial_year"),
    foreign_keys=(
        TO_AREAS,
        *(ForeignKey((f"{s}_source_id",), "sources", ("source_id",)) for s in STREAMS),
        *(ForeignKey((f"{m}_source_id",), "sources", ("source_id",)) for m in PANEL_MEASURES),
        ForeignKey(("per_head_population_source_id",), "sources", ("source_id",)),
    ),
)

# In dependency order: a table's foreign keys point only to tables before it.
PUBLISHED_TABLES: dict[str, Table] = {
    t.name: t
    for t in (
        SOURCES,
        POLICE_FORCE_AREAS,
        LOCAL_POLICING_BODIES,
        AREA_NAMES,
        VIOLENCE_REDUCTION_UNITS,
        INITIATIVES,
        EVIDENCE_APPROACHES,
        INITIATIVE_APPROACHES,
        IMPACT_CLAIMS,
        REPORT_CLAIMS,
        REPORT_CLAIM_EVIDENCE,
        FUNDING_REPORTS,
        FUNDING_ALLOCATIONS,
        FUNDING_COVERAGE,
        NATIONAL_TOTALS,
        AREA_OUTCOMES,
        AREA_POPULATIONS,
        AREA_OUTCOME_RATES,
        OUTCOME_REVISIONS,
        OUTCOME_CHANGE_BY_AREA,
        QUALITY_FLAGS,
        SOURCE_NOTES,
        SOURCE_NOTE_VALUES,
        OUTCOME_COMPARISON,
        OUTCOME_GROUP_RATES,
        OUTCOME_CHANGE_BY_GROUP,
        AREA_YEAR,
    )
}
