"""The funding chart in the dataset card: known VRU and Grip funding by area and year.

A grid, not bars: a missing figure is a hatched grey cell labelled "no figure", never a zero-height
bar that a reader could take for no funding.
"""

from __future__ import annotations

import io
import textwrap
from dataclasses import dataclass
from decimal import Decimal

import matplotlib

matplotlib.use("Agg")  # no screen on build machines; also keeps the PNG identical across runs

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from schemas.vocabulary import AREA_GROUP, AREA_GROUPS, stream_first_year  # noqa: E402

STREAM_LABELS = {"vru": "VRU", "surge_grip": "Surge/Grip", "hotspot_fund": "Hotspot fund", "svd": "SVD"}


PREFIX = {"lower_bound": "≥", "upper_bound": "≤", "rounded": "~"}


def png(fig) -> bytes:
    """The figure as PNG bytes, then closed. No software or date metadata, so identical inputs give identical
    bytes."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", metadata={"Software": None})
    plt.close(fig)
    return buffer.getvalue()


def funding_grid_png(
    areas: list[str],
    columns: list[tuple[str, str]],
    amounts: dict[tuple[str, str, str], Decimal],
    kinds: dict[tuple[str, str, str], str],
) -> bytes:
    """PNG of areas (rows) by (stream, year) columns.

    `amounts` maps (area, stream, year) to the chosen figure; `kinds` maps every cell that could exist
    to what is known ("exact", "rounded", "lower_bound", ...); a cell in neither was not funded.
    """
    values = np.full((len(areas), len(columns)), np.nan)
    for i, area in enumerate(areas):
        for j, (stream, year) in enumerate(columns):
            if (area, stream, year) in amounts:
                values[i, j] = float(amounts[(area, stream, year)]) / 1e6

    width = 3.2 + 1.3 * max(len(columns), 1)
    fig, ax = plt.subplots(figsize=(width, 0.36 * len(areas) + 1.6), dpi=100)
    ax.set_facecolor("#eeeeee")
    masked = np.ma.masked_invalid(values)
    ax.imshow(masked, cmap="Blues", aspect="auto", vmin=0, vmax=np.nanmax(values) if np.isfinite(values).any() else 1)
    for i in range(len(areas)):
        for j in range(len(columns)):
            key = (areas[i], *columns[j])
            if key not in kinds:
                ax.add_patch(plt.Rectangle((j - 0.5, i - 0.5), 1, 1, color="white"))
                ax.text(j, i, "not funded", ha="center", va="center", fontsize=7, color="#999999")
            elif np.isnan(values[i, j]):
                ax.add_patch(plt.Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False, hatch="///", edgecolor="#bbbbbb"))
                ax.text(j, i, "no figure", ha="center", va="center", fontsize=7, color="#777777")
            else:
                known, _, conflict = kinds[key].partition(" ")
                label = f"{PREFIX.get(known, '')}£{values[i, j]:.2f}m{' !' if conflict else ''}"
                dark = values[i, j] > 0.6 * np.nanmax(values)
                ax.text(j, i, label, ha="center", va="center", fontsize=8, color="white" if dark else "black")
    ax.set_xticks(range(len(columns)), [f"{STREAM_LABELS[s]}\n{y}" for s, y in columns], fontsize=8)
    ax.set_yticks(range(len(areas)), areas, fontsize=8)
    ax.xaxis.tick_top()
    ax.tick_params(length=0)
    ax.set_title(
        "Known Home Office funding, £ million: ~ rounded, ≥ at least, ≤ at most, ! sources conflict\n"
        "hatched: no published figure found; white: the area was not funded that year",
        fontsize=9,
        pad=30,
    )
    fig.tight_layout()
    return png(fig)


GROUPS = AREA_GROUPS
GROUP_NAMES = {code: group.name for code, group in AREA_GROUP.items()}


# Okabe-Ito colours (distinguishable with the common colour-vision deficiencies), with a marker and a line
# style each, so that no group is told apart by colour alone. Dotted lines are kept for "flagged values included".
# Given to the groups in their order in schemas/vocabulary.py; a group beyond these has no style and fails here.
_COLOURS, _MARKERS, _LINES = ("#0072B2", "#E69F00", "#009E73"), ("o", "s", "^"), ("-", "--", "-.")
if len(GROUPS) > len(_COLOURS):
    raise ValueError(f"chart.py styles {len(_COLOURS)} area groups; schemas/vocabulary.py declares {len(GROUPS)}")
GROUP_STYLE = {group: (_COLOURS[i], _MARKERS[i]) for i, group in enumerate(GROUPS)}
GROUP_LINE = {group: _LINES[i] for i, group in enumerate(GROUPS)}
# Where each group's dots sit in the change chart's row for a measure: spread evenly, the first on top.
GROUP_OFFSET = {group: 0.22 * ((len(GROUPS) - 1) / 2 - i) for i, group in enumerate(GROUPS)}


@dataclass(frozen=True)
class HomicideComparison:
    """outcome_comparison rows of one homicide-rate edition: (first year, group, variant, mean, median,
    population-weighted mean, areas used, flagged values used, areas left out)."""

    edition: str
    rows: list[tuple]

    @property
    def periods(self) -> list[str]:
        return sorted({r[0] for r in self.rows})

    def value(self, period: str, group: str, variant: str, column: int = 3) -> float | None:
        found = next((r[column] for r in self.rows if r[:3] == (period, group, variant)), None)
        return None if found is None else float(found)

    def series(self, group: str, variant: str) -> list[float | None]:
        return [self.value(p, group, variant) for p in self.periods]

    def flagged_used(self) -> list[tuple]:
        """(period, group, number of flagged values) wherever the all_values variant uses flagged values."""
        return [(r[0], r[1], r[7]) for r in self.rows if r[2] == "all_values" and r[7]]


def _spread(positions: dict[str, float], gap: float) -> dict[str, float]:
    """Label heights at least `gap` apart, in the order of the lines they label (direct labels never overlap)."""
    placed: dict[str, float] = {}
    for key, y in sorted(positions.items(), key=lambda item: item[1]):
        below = max(placed.values(), default=None)
        placed[key] = y if below is None else max(y, below + gap)
    return placed


def homicide_png(comparison: HomicideComparison, caption: str) -> bytes:
    """Mean homicide rate per million by area group over the rolling three-year periods: one line per group
    without the flagged values (its own colour, marker and line style), and dotted with every value where the
    flagged values change it, so that a reader sees what they do. Lines are labelled at their right end, not in
    a legend; the caption names the source and the package version."""
    fig, ax = plt.subplots(figsize=(10, 5.2), dpi=100)
    periods = comparison.periods
    labels = [f"{p[:4]}-{int(p[:4]) + 3}" for p in periods]
    ends: dict[str, float] = {}
    texts: dict[str, tuple[str, str]] = {}
    for group in GROUPS:
        colour, marker = GROUP_STYLE[group]
        used = [r[6] for r in comparison.rows if r[1] == group and r[2] == "excluding_flagged"]
        clean = comparison.series(group, "excluding_flagged")
        every = comparison.series(group, "all_values")
        line = [np.nan if v is None else v for v in clean]
        ax.plot(labels, line, marker=marker, color=colour, linestyle=GROUP_LINE[group])
        if clean[-1] is not None:
            ends[group] = clean[-1]
            texts[group] = (f"{GROUP_NAMES[group]} ({max(used, default=0)} areas): {clean[-1]:.1f}", colour)
        if every != clean:
            ax.plot(labels, [np.nan if v is None else v for v in every], linestyle=":", marker=".", color=colour)
            if every[-1] is not None:
                ends[f"{group} all"] = every[-1]
                texts[f"{group} all"] = (f"{GROUP_NAMES[group]}, flagged values included: {every[-1]:.1f}", colour)
    top = max([v for g in GROUPS for v in comparison.series(g, "all_values") if v is not None], default=1.0)
    ax.set_ylim(0, top * 1.15)
    for key, y in _spread(ends, gap=top * 0.06).items():
        text, colour = texts[key]
        ax.annotate(
            text,
            (len(labels) - 1, ends[key]),
            xytext=(len(labels) - 0.8, y),
            textcoords="data",
            va="center",
            fontsize=8,
            color=colour,
            arrowprops={"arrowstyle": "-", "color": colour, "linewidth": 0.6},
        )
    ax.set_xlim(-0.3, len(labels) + 2.6)
    began = stream_first_year("vru")
    if began in periods:
        x = periods.index(began)
        ax.axvline(x, color="#888888", linestyle="--", linewidth=1)
        ax.text(
            x + 0.05,
            top * 1.12,
            f"first period wholly after\nVRU funding began ({began})",
            fontsize=8,
            va="top",
            color="#555555",
        )
    ax.set_ylabel("Homicides per million population\n(unweighted mean of area rates)", fontsize=9)
    ax.set_xlabel(f"Three-year period, April to March (edition {comparison.edition})", fontsize=9)
    ax.tick_params(labelsize=8)
    ax.spines[["top", "right"]].set_visible(False)
    ax.set_title("Homicide rate: areas with a VRU and the others (descriptive, not causal)", fontsize=10)
    fig.text(0.01, 0.01, textwrap.fill(caption, 160), fontsize=7, color="#555555", ha="left", va="bottom")
    fig.tight_layout(rect=(0, 0.06, 1, 1))
    return png(fig)


CHANGE_MEASURES = {
    "violence_with_injury_offences": "Violence with injury",
    "possession_of_weapons_offences": "Possession of weapons",
    "violence_without_injury_offences": "Violence without injury",
    "homicide_offences": "Homicide",
}


def change_png(rows: list[tuple], caption: str, after: str) -> bytes:
    """Percentage change in recorded offences, 2018-19 to the after year (`after`: "June 2025", the month it ends),
    by measure and area group.

    `rows`: (measure, area_group, percent_change, n_areas). One row of dots per measure, labelled directly.
    """
    measures = [m for m in CHANGE_MEASURES if any(r[0] == m for r in rows)]
    fig, ax = plt.subplots(figsize=(9, 1.2 + 1.1 * len(measures)), dpi=100)
    for y, measure in enumerate(reversed(measures)):
        ax.axhline(y, color="#dddddd", linewidth=0.8, zorder=0)
        for group, (colour, marker) in GROUP_STYLE.items():
            found = [r for r in rows if r[0] == measure and r[1] == group]
            if not found:
                continue
            change, n_areas = float(found[0][2]), found[0][3]
            offset = GROUP_OFFSET[group]
            ax.scatter(change, y + offset, color=colour, marker=marker, s=60, zorder=3)
            ax.annotate(
                f"{GROUP_NAMES[group]} ({n_areas}): {change:+.1f}%",
                (change, y + offset),
                xytext=(8, 0),
                textcoords="offset points",
                va="center",
                fontsize=8,
                color=colour,
            )
    ax.axvline(0, color="#555555", linewidth=1)
    ax.set_yticks(range(len(measures)), [CHANGE_MEASURES[m] for m in reversed(measures)], fontsize=9)
    ax.set_ylim(-0.6, len(measures) - 0.4)
    low = min(float(r[2]) for r in rows)
    high = max(float(r[2]) for r in rows)
    ax.set_xlim(min(low, 0) - 10, high + 60)
    ax.set_xlabel(f"Change in police recorded offences, 2018-19 to the year ending {after} (%)", fontsize=9)
    ax.set_title("Recorded offences before and after VRU funding, by group of areas (descriptive)", fontsize=10)
    fig.text(0.01, 0.01, textwrap.fill(caption, 150), fontsize=7, color="#555555", ha="left", va="bottom")
    fig.tight_layout(rect=(0, 0.08, 1, 1))
    return png(fig)
