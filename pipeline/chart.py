"""The funding chart in the dataset card: known VRU and Grip funding by area and year.

A grid, not bars: a missing figure is a hatched grey cell labelled "no figure", never a zero-height
bar that a reader could take for no funding.
"""

from __future__ import annotations

import io
from decimal import Decimal

import matplotlib

matplotlib.use("Agg")  # no screen on build machines; also keeps the PNG identical across runs

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

STREAM_LABELS = {"vru": "VRU", "surge_grip": "Surge/Grip", "hotspot_fund": "Hotspot fund", "svd": "SVD"}


PREFIX = {"lower_bound": "≥", "upper_bound": "≤", "rounded": "~"}


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
    buffer = io.BytesIO()
    # No software/date metadata, so identical inputs give identical bytes.
    fig.savefig(buffer, format="png", metadata={"Software": None})
    plt.close(fig)
    return buffer.getvalue()


GROUP_LABELS = {
    "vru_from_2019-20": "VRU areas from 2019-20 (18)",
    "vru_from_2022-23": "VRU areas from 2022-23 (Cleveland, Humberside)",
    "no_vru": "Areas without a VRU (22 with a rate; City of London suppressed)",
}


def homicide_png(periods: list[str], means: dict[str, list[float | None]]) -> bytes:
    """Mean homicide rate per million by area group over the rolling three-year periods."""
    fig, ax = plt.subplots(figsize=(9, 4.6), dpi=100)
    labels = [f"{p[:4]}-{int(p[:4]) + 3}" for p in periods]
    for group, values in means.items():
        ax.plot(labels, [np.nan if v is None else v for v in values], marker="o", label=GROUP_LABELS.get(group, group))
    if "2019-04-01/P3Y" in periods:
        x = periods.index("2019-04-01/P3Y")
        ax.axvline(x, color="#888888", linestyle="--", linewidth=1)
        ax.text(
            x + 0.05,
            ax.get_ylim()[1] * 0.97,
            "first period wholly after\nVRU funding began (2019-20)",
            fontsize=8,
            va="top",
            color="#555555",
        )
    ax.set_ylabel("Homicides per million population\n(unweighted mean of area rates)", fontsize=9)
    ax.set_xlabel("Three-year period, April to March", fontsize=9)
    ax.tick_params(labelsize=8)
    ax.set_ylim(bottom=0)
    ax.legend(fontsize=8, loc="lower left")
    ax.set_title("Homicide rate: areas with a VRU and the others (descriptive, not causal)", fontsize=10)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", metadata={"Software": None})
    plt.close(fig)
    return buffer.getvalue()
