"""Sentence-aware chunking: stable ids, exact spans, token budget, overlap, coverage."""

from __future__ import annotations

import re

import pytest

from smallrag.core.sentences import sentence_spans
from smallrag.core.chunking import ChunkingConfig, chunk_document, chunk_documents, chunk_id
from smallrag.core.errors import SmallragError
from smallrag.core.types import Document

TOKEN = re.compile(r"\w+|[^\w\s]")


def n_tokens(text: str) -> int:
    return len(TOKEN.findall(text))


def numbered(n: int, prefix: str = "Sentence number") -> str:
    return " ".join(f"{prefix} {i} is here." for i in range(n))  # 6 tokens per sentence


LONG_TEXT = (
    "Retrieval augmented generation combines search with text generation. "
    "A retriever finds passages! Does the generator read them? It does.\n\n"
    "New paragraph without final punctuation\n\n"
    "Short one. " + numbered(25, "Filler sentence") + " "
    + " ".join(f"word{i}" for i in range(70)) + ". Tail sentence ends here."
)

CONFIGS = [ChunkingConfig(), ChunkingConfig(max_tokens=20, overlap=8), ChunkingConfig(max_tokens=12, overlap=0),
           ChunkingConfig(max_tokens=7, overlap=6), ChunkingConfig(max_tokens=1, overlap=0)]


def test_chunk_ids_are_stable_across_runs() -> None:
    doc = Document(id="d1", text=LONG_TEXT)
    cfg = ChunkingConfig(max_tokens=20, overlap=8)
    first = chunk_document(doc, cfg)
    second = chunk_document(Document(id="d1", text=LONG_TEXT), cfg)
    assert len(first) > 3
    assert [c.id for c in first] == [c.id for c in second]
    assert first == second
    assert len({c.id for c in first}) == len(first)
    assert first[0].id == chunk_id("d1", first[0].start, first[0].text)
    assert re.fullmatch(r"[0-9a-f]{24}", first[0].id)


def test_chunk_ids_change_when_text_or_doc_id_changes() -> None:
    cfg = ChunkingConfig(max_tokens=20, overlap=0)
    text = numbered(10)
    base = chunk_document(Document(id="d", text=text), cfg)
    edited = chunk_document(Document(id="d", text=text.replace("number 9", "number nine")), cfg)
    assert [c.id for c in base][:-1] == [c.id for c in edited][:-1]  # untouched chunks keep their ids
    assert base[-1].id != edited[-1].id
    other_doc = chunk_document(Document(id="other", text=text), cfg)
    assert not {c.id for c in base} & {c.id for c in other_doc}


@pytest.mark.parametrize("cfg", CONFIGS, ids=lambda c: f"{c.max_tokens}-{c.overlap}")
def test_chunk_text_is_the_exact_span(cfg: ChunkingConfig) -> None:
    doc = Document(id="d", text=LONG_TEXT)
    chunks = chunk_document(doc, cfg)
    assert chunks
    for c in chunks:
        assert c.text == doc.text[c.start:c.end]
        assert c.text == c.text.strip()
        assert 0 <= c.start < c.end <= len(doc.text)
    assert [c.start for c in chunks] == sorted(c.start for c in chunks)
    assert len({c.start for c in chunks}) == len(chunks)  # always advances


@pytest.mark.parametrize("cfg", CONFIGS, ids=lambda c: f"{c.max_tokens}-{c.overlap}")
def test_chunks_respect_the_token_budget(cfg: ChunkingConfig) -> None:
    for c in chunk_document(Document(id="d", text=LONG_TEXT), cfg):
        assert 1 <= n_tokens(c.text) <= cfg.max_tokens, c.text


def test_chunks_fill_the_budget_greedily() -> None:
    cfg = ChunkingConfig(max_tokens=20, overlap=0)
    chunks = chunk_document(Document(id="d", text=numbered(12)), cfg)  # 12 sentences x 6 tokens
    assert [n_tokens(c.text) for c in chunks] == [18, 18, 18, 18]


def test_overlap_is_whole_trailing_sentences() -> None:
    doc = Document(id="d", text=numbered(12))
    sentences = [doc.text[s:e] for s, e in sentence_spans(doc.text)]
    cfg = ChunkingConfig(max_tokens=20, overlap=8)  # 3 sentences per chunk, 1 (6 tokens) carried over
    chunks = chunk_document(doc, cfg)
    assert len(chunks) == 6
    for prev, nxt in zip(chunks, chunks[1:]):
        assert nxt.start < prev.end  # they overlap
        shared = doc.text[nxt.start:prev.end]
        assert shared in sentences  # by exactly one whole sentence
        assert n_tokens(shared) <= cfg.overlap
        assert prev.text.endswith(shared) and nxt.text.startswith(shared)


def test_overlap_takes_as_many_sentences_as_fit() -> None:
    doc = Document(id="d", text=numbered(12))
    chunks = chunk_document(doc, ChunkingConfig(max_tokens=30, overlap=13))  # 2 whole sentences fit in 13
    for prev, nxt in zip(chunks, chunks[1:]):
        shared = doc.text[nxt.start:prev.end]
        assert n_tokens(shared) == 12
        assert shared.count(".") == 2


def test_no_overlap_when_overlap_is_zero() -> None:
    doc = Document(id="d", text=LONG_TEXT)
    chunks = chunk_document(doc, ChunkingConfig(max_tokens=20, overlap=0))
    assert len(chunks) > 3
    for prev, nxt in zip(chunks, chunks[1:]):
        assert prev.end <= nxt.start
        assert doc.text[prev.end:nxt.start].strip() == ""  # nothing between them is lost


def test_sentence_longer_than_budget_is_split() -> None:
    words = " ".join(f"w{i}" for i in range(25))
    doc = Document(id="d", text=f"{words}.")  # one 26-token sentence
    chunks = chunk_document(doc, ChunkingConfig(max_tokens=10, overlap=0))
    assert [n_tokens(c.text) for c in chunks] == [10, 10, 6]
    assert " ".join(c.text for c in chunks) == doc.text
    # with overlap, the pieces of a split sentence are units of their own: still within budget
    for c in chunk_document(doc, ChunkingConfig(max_tokens=10, overlap=5)):
        assert n_tokens(c.text) <= 10


@pytest.mark.parametrize("text", ["", "   ", "\n\n\t \n"])
def test_empty_or_whitespace_document_gives_no_chunks(text: str) -> None:
    assert chunk_document(Document(id="e", text=text)) == []
    assert chunk_documents([Document(id="e", text=text)]) == []


@pytest.mark.parametrize("max_tokens, overlap", [(0, 0), (-5, 0), (10, 10), (10, 11), (10, -1), (1, 1)])
def test_config_rejects_bad_values(max_tokens: int, overlap: int) -> None:
    with pytest.raises(SmallragError):
        ChunkingConfig(max_tokens=max_tokens, overlap=overlap)


def test_config_accepts_edge_values() -> None:
    assert ChunkingConfig(max_tokens=1, overlap=0).to_json() == {"max_tokens": 1, "overlap": 0}
    ChunkingConfig(max_tokens=10, overlap=9)


def test_metadata_title_and_doc_id_propagate() -> None:
    docs = [Document(id="a", text=numbered(8), title="Title A", metadata={"topic": "x", "n": 3}),
            Document(id="b", text="Just one sentence.", metadata={"topic": "y"})]
    chunks = chunk_documents(docs, ChunkingConfig(max_tokens=20, overlap=0))
    assert {c.doc_id for c in chunks} == {"a", "b"}
    assert [c.doc_id for c in chunks] == sorted(c.doc_id for c in chunks)  # document order kept
    for c in chunks:
        doc = docs[0] if c.doc_id == "a" else docs[1]
        assert c.title == doc.title
        assert dict(c.metadata) == dict(doc.metadata)
    assert chunks[-1].text == "Just one sentence."


@pytest.mark.parametrize("cfg", CONFIGS, ids=lambda c: f"{c.max_tokens}-{c.overlap}")
def test_every_sentence_is_covered(cfg: ChunkingConfig) -> None:
    doc = Document(id="d", text=LONG_TEXT)
    chunks = chunk_document(doc, cfg)
    for s, e in sentence_spans(doc.text):
        sentence_tokens = [(s + m.start(), s + m.end()) for m in TOKEN.finditer(doc.text[s:e])]
        for ts, te in sentence_tokens:  # every token of every sentence lies inside some chunk
            assert any(c.start <= ts and te <= c.end for c in chunks), doc.text[ts:te]
        if n_tokens(doc.text[s:e]) <= cfg.max_tokens:  # a sentence that fits is never cut
            assert any(c.start <= s and e <= c.end for c in chunks), doc.text[s:e]


def test_paragraph_break_ends_a_sentence() -> None:
    text = "first paragraph no stop\n\nsecond paragraph no stop"
    chunks = chunk_document(Document(id="p", text=text), ChunkingConfig(max_tokens=4, overlap=0))
    assert [c.text for c in chunks] == ["first paragraph no stop", "second paragraph no stop"]


def test_closing_quotes_count_toward_the_budget() -> None:
    doc = Document(id="q", text='Then "stop!" came. End.')
    cfg = ChunkingConfig(max_tokens=6, overlap=0)
    for c in chunk_document(doc, cfg):
        assert n_tokens(c.text) <= cfg.max_tokens, c.text  # 'Then "stop!" came.' has 7 tokens


def test_closing_quote_at_chunk_end_is_kept() -> None:
    doc = Document(id="q", text='He said "go home." She left.')
    chunks = chunk_document(doc, ChunkingConfig(max_tokens=7, overlap=0))
    assert chunks[0].text == 'He said "go home."'


# -- pages and sections from the reader's segments --------------------------------------------

def _paged_document() -> Document:
    from smallrag.core.types import Segment

    pages = ["Alpha one. Alpha two. Alpha three.", "Beta one. Beta two.", "Gamma one."]
    text, segments = "", []
    for number, page in enumerate(pages, 1):
        if text:
            text += "\n\n"
        segments.append(Segment(len(text), len(text) + len(page), {"page": number}))
        text += page
    return Document(id="doc.pdf", text=text, metadata={"source": "doc.pdf"}, segments=tuple(segments))


def test_chunks_carry_their_page_and_the_range_when_they_span_pages() -> None:
    doc = _paged_document()
    word_page = {"Alpha": 1, "Beta": 2, "Gamma": 3}
    small = chunk_document(doc, ChunkingConfig(max_tokens=6, overlap=2))
    assert len(small) >= 3
    for chunk in small:
        pages = sorted({word_page[w] for w in chunk.text.split() if w in word_page})
        expected = {"source": "doc.pdf", "page": pages[0]}
        if len(pages) > 1:
            expected.update(page_start=pages[0], page_end=pages[-1])
        assert chunk.metadata == expected, chunk.text
    assert any("page_start" in c.metadata for c in small) and any("page_start" not in c.metadata for c in small)
    whole = chunk_document(doc, ChunkingConfig(max_tokens=100, overlap=0))
    assert len(whole) == 1
    assert whole[0].metadata == {"source": "doc.pdf", "page": 1, "page_start": 1, "page_end": 3}


def test_segments_do_not_change_chunk_ids_or_spans() -> None:
    doc = _paged_document()
    plain = Document(id=doc.id, text=doc.text, metadata=doc.metadata)
    cfg = ChunkingConfig(max_tokens=8, overlap=3)
    assert [(c.id, c.start, c.end) for c in chunk_document(doc, cfg)] == \
        [(c.id, c.start, c.end) for c in chunk_document(plain, cfg)]


def test_a_chunk_never_crosses_a_section_boundary() -> None:
    from smallrag.core.types import Segment

    first = "# Install\n\nRun the installer. Then reboot."
    second = "# Usage\n\nOpen the app. Click start."
    text = first + "\n\n" + second
    doc = Document(id="g.md", text=text, segments=(
        Segment(0, len(first) + 2, {"section": "Install"}), Segment(len(first) + 2, len(text), {"section": "Usage"})))
    chunks = chunk_document(doc, ChunkingConfig(max_tokens=100, overlap=20))
    assert [(c.text, c.metadata["section"]) for c in chunks] == [(first, "Install"), (second, "Usage")]
    overlapping = chunk_document(doc, ChunkingConfig(max_tokens=9, overlap=8))
    for chunk in overlapping:  # overlap never carries a sentence over into the next section
        assert ("Install" in chunk.text or "installer" in chunk.text or "reboot" in chunk.text) != \
            ("Usage" in chunk.text or "app" in chunk.text or "start" in chunk.text)
