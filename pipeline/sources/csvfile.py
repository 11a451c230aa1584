"""Raw CSV files read as published: every cell as text, blank cells as missing, no type guessing."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pandas as pd

from schemas.model import RAW_TEXT


class RawFileError(ValueError):
    """A raw file that cannot be read as a CSV table; the message names the file."""


def read_raw_csv(path: Path, header_row: int = 1) -> pd.DataFrame:
    """Every cell as text, blank cells as missing, exactly as published (no type guessing).

    Accepted as published: a UTF-8 byte-order mark (Excel writes one) and CRLF line endings (several
    sources use them); title and note lines above the header row (header_row counts them). Refused with
    the line named: bytes that are not UTF-8.
    """
    data = path.read_bytes()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise RawFileError(f"{path}: line {line} is not valid UTF-8 (byte {exc.start})") from exc
    if not text.strip():
        raise RawFileError(f"{path}: file is empty")
    try:
        # From the bytes (the C parser decodes them itself), as Arrow-backed text: what the raw schema checks.
        frame = pd.read_csv(
            io.BytesIO(data),
            encoding="utf-8-sig",
            dtype=RAW_TEXT,
            keep_default_na=False,
            na_values=[""],
            skiprows=header_row - 1,
        )
    except (pd.errors.ParserError, csv.Error) as exc:
        raise RawFileError(f"{path}: not a readable CSV table: {exc}") from exc
    return frame
