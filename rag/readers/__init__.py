"""Readers turn one file's bytes into text plus where each stretch came from (page, section).

One module per format, each with a `read_<format>(path) -> ReadText` that raises
`UnreadableFile(reason)` for a file it cannot read; `smallrag.ingest` picks the reader by suffix,
skips such files with one warning each and counts them. The heavy parsers (pypdf, trafilatura,
python-docx) are imported inside the readers that need them.
"""
