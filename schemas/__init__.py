"""Table declarations: the single source of every schema the project publishes or checks."""

from schemas.model import Column, ForeignKey, Table
from schemas.published import PUBLISHED_TABLES
from schemas.raw import RAW_TABLES

__all__ = ["Column", "ForeignKey", "Table", "PUBLISHED_TABLES", "RAW_TABLES"]
