"""The text of an HTML file's bytes, decoded the way browsers decode it: by its BOM, then the
page's own charset declaration (read as browsers read the label: latin-1 as windows-1252,
Shift_JIS as cp932), then UTF-8, then charset_normalizer's guess."""

from __future__ import annotations

import codecs
import logging
import re

from smallrag.readers.base import UnreadableFile
from smallrag.readers.text import split_bom

logger = logging.getLogger(__name__)

# <meta charset="x">, <meta http-equiv="Content-Type" content="text/html; charset=x"> and the XML
# declaration of XHTML; browsers look for them in the first 1024 bytes, we allow a longer <head>
_DECLARED = re.compile(rb"""<meta[^>]*?charset\s*=\s*["']?\s*([A-Za-z0-9._:-]+)"""
                       rb"""|<\?xml[^>]*?encoding\s*=\s*["']([A-Za-z0-9._:-]+)""", re.IGNORECASE)
_PRESCAN = 8192
# Labels browsers read as a larger encoding (WHATWG Encoding Standard): pages that say latin-1
# are written in windows-1252, Shift_JIS pages use Microsoft's cp932 extensions, and so on. A page
# that declares UTF-16 in ASCII bytes cannot be UTF-16, so browsers take it as UTF-8.
_WHATWG = {
    **dict.fromkeys(("iso-8859-1", "iso8859-1", "latin1", "latin-1", "l1", "ascii", "us-ascii",
                     "windows-1252", "cp1252"), "cp1252"),
    **dict.fromkeys(("shift_jis", "shift-jis", "sjis", "x-sjis", "ms_kanji", "csshiftjis",
                     "windows-31j", "cp932"), "cp932"),
    **dict.fromkeys(("euc-kr", "ks_c_5601-1987", "windows-949", "cp949"), "cp949"),
    **dict.fromkeys(("gb2312", "gbk", "x-gbk", "chinese", "csgb2312", "gb18030"), "gb18030"),
    **dict.fromkeys(("iso-8859-9", "latin5", "windows-1254"), "cp1254"),
    **dict.fromkeys(("tis-620", "iso-8859-11", "windows-874"), "cp874"),
    **dict.fromkeys(("utf-16", "utf-16le", "utf-16be"), "utf-8"),
}


def decode_html(data: bytes) -> str:
    """The page's text: by its BOM, else its declared charset, else UTF-8, else detected."""
    encoding, payload = split_bom(data)
    if encoding is not None:
        return _decode_or_raise(payload, [encoding])
    tried: list[str] = []
    declared = _declared_encoding(data)
    # UTF-8 before guessing: valid UTF-8 that is meant as something else is rare, and detectors
    # are unsure on short texts
    for encoding in _candidates(declared) + ["utf-8"]:
        if encoding in tried:
            continue
        tried.append(encoding)
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    if declared:
        logger.debug("page declares %s but does not decode as it", declared)
    guessed = _detect(data)
    if guessed is not None:
        return guessed
    raise UnreadableFile(f"cannot decode its text (tried {', '.join(tried)}); save it as UTF-8")


def _declared_encoding(data: bytes) -> str | None:
    match = _DECLARED.search(data[:_PRESCAN])
    if match is None:
        return None
    return (match.group(1) or match.group(2)).decode("ascii").lower()


def _candidates(label: str | None) -> list[str]:
    """Python codecs to try for a declared label, the browsers' reading first."""
    if label is None:
        return []
    names = [_WHATWG.get(label, label)]
    if names[0] == "cp1252":
        names.append("latin-1")  # cp1252 leaves five bytes undefined; latin-1 takes every byte
    found = []
    for name in names:
        try:
            found.append(codecs.lookup(name).name)
        except LookupError:
            logger.debug("unknown charset label %r", name)
    return found


def _detect(data: bytes) -> str | None:
    import charset_normalizer

    best = charset_normalizer.from_bytes(data).best()
    if best is None:
        return None
    logger.debug("detected charset %s", best.encoding)
    return str(best)


def _decode_or_raise(data: bytes, encodings: list[str]) -> str:
    for encoding in encodings:
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise UnreadableFile(f"cannot decode its text (tried {', '.join(encodings)}); save it as UTF-8")
