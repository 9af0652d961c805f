"""What a PDF engine (pdf_pdfium, pdf_pypdf) hands to the shared cleaning in `pdf`: lines with
their position, and the errors and messages both engines use. Imports nothing from `pdf`, so the
engines and `pdf` do not import each other in a circle."""

from __future__ import annotations

import re
from dataclasses import dataclass

from smallrag.readers.base import UnreadableFile

DAMAGED = "it may be truncated or damaged: download or export it again"
NEEDS_PASSWORD = "is encrypted and needs a password; decrypt it first, e.g. qpdf --decrypt"

# Engines place a line by its first letter or digit (else its first visible character): a list
# bullet is often set in a smaller font than its text, which would look like a change of size.
WORD_CHAR = re.compile(r"[^\W_]")


@dataclass
class PdfLine:
    text: str
    y: float | None = None  # baseline height on the page (of its first letter), when the engine reported it
    size: float | None = None  # font size as printed (scaled by the text and page matrices)
    blank_after: bool = False  # the engine gave an empty line after this one


class CannotOpen(UnreadableFile):
    """An engine could not parse the file at all (not: it needs a password); in "auto" mode the
    next engine tries."""


def short_reason(exc: BaseException) -> str:
    message = " ".join(str(exc).split())[:100]
    return f"{type(exc).__name__}: {message}" if message else type(exc).__name__
