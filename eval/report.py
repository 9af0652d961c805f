"""Self-contained HTML reports of evaluation runs: `report.html` for one run and `compare.html`
for several. Plots are inline SVG (eval/svg.py) with round ticks and labelled axes; a small
inline script sorts and filters the tables. The files load nothing from anywhere (a
Content-Security-Policy forbids it and lets only that script run), so they open from disk in
any browser. Every text taken from the records (questions, answers, claims, ids) is escaped:
a question holding `<script>` shows as text."""

from __future__ import annotations

import base64
import hashlib
import json
import math
from dataclasses import dataclass
from html import escape
from pathlib import Path
from typing import Any, Mapping, Sequence

from smallrag.core.checks import is_number
from smallrag.eval import svg
from smallrag.eval.summary import read_summary, retrieval_scores

REPORT_FILE = "report.html"
_CORRECT_MEANS = {"contains": "the answer contains a gold answer"}
LOW_F1 = 0.5  # an answer below this token F1 is a failure worth a detail section, even when "correct"
MAX_ROWS = 5000  # examples listed in the table (the weakest first)
MAX_DETAILS = 300  # failed examples given a detail section (the weakest first)

_STYLE = """
body { font-family: sans-serif; margin: 2em; color: #222; max-width: 1400px; }
h1 { font-size: 1.5em; } h2 { font-size: 1.2em; margin-top: 1.6em; } h3 { font-size: 1.05em; }
h4 { font-size: 0.95em; margin: 0.8em 0 0.2em; }
table { border-collapse: collapse; margin: 0.5em 0; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 3px 8px; text-align: left; vertical-align: top; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
td.text { max-width: 28em; min-width: 6em; overflow-wrap: break-word; }
th button { font: inherit; font-weight: bold; background: none; border: 0; padding: 0; cursor: pointer;
  color: inherit; text-align: left; }
th button:focus-visible { outline: 2px solid #1a5fb4; outline-offset: 2px; }
th .arrow::after { content: " \\2195"; color: #999; }
th[aria-sort=ascending] .arrow::after { content: " \\2191"; color: #222; }
th[aria-sort=descending] .arrow::after { content: " \\2193"; color: #222; }
.scroll { overflow-x: auto; }
.plots { display: flex; flex-wrap: wrap; gap: 12px; }
.note { color: #555; font-size: 0.85em; max-width: 60em; }
.filters { display: flex; flex-wrap: wrap; gap: 0.6em 1.2em; align-items: center; margin: 0.6em 0; }
.filters label { font-size: 0.9em; margin-right: 0.3em; }
.correct { color: #1b7a35; } .wrong, .error, .contradicted { color: #b3261e; }
.abstained, .unsupported { color: #8a5a00; } .unscored, .unverified { color: #555; }
.supported { color: #1b7a35; }
section.detail { border: 1px solid #ccc; border-radius: 4px; padding: 0.4em 1em 0.8em; margin: 1em 0;
  scroll-margin-top: 1em; }
section.detail:target { border-color: #1a5fb4; box-shadow: 0 0 0 3px #c6dbf7; }
dl.fields { display: grid; grid-template-columns: max-content 1fr; gap: 0.2em 1em; margin: 0.4em 0; }
dl.fields dt { font-weight: bold; } dl.fields dd { margin: 0; overflow-wrap: anywhere; }
"""

# sorting (header buttons: click, or Enter/Space when focused) and the example filters; it reads
# the DOM only, so no record text ever passes through the script
_SCRIPT = """
(function () {
  "use strict";
  function key(row, i, numeric) {
    var cell = row.cells[i];
    var v = cell.hasAttribute("data-sort") ? cell.getAttribute("data-sort") : cell.textContent.trim();
    if (!numeric) return v.toLowerCase();
    return v === "" ? null : parseFloat(v);
  }
  document.querySelectorAll("table.sortable").forEach(function (table) {
    var headers = Array.prototype.slice.call(table.tHead.rows[0].cells);
    headers.forEach(function (th, i) {
      var button = th.querySelector("button");
      if (!button) return;
      button.addEventListener("click", function () {
        var numeric = th.getAttribute("data-type") === "num";
        var ascending = th.getAttribute("aria-sort") !== "ascending";
        headers.forEach(function (h) { if (h.querySelector("button")) h.setAttribute("aria-sort", "none"); });
        th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
        var body = table.tBodies[0];
        var rows = Array.prototype.slice.call(body.rows);
        rows.sort(function (a, b) {
          var x = key(a, i, numeric), y = key(b, i, numeric);
          if (x === y) return 0;
          if (x === null) return 1;  /* missing values last, either way */
          if (y === null) return -1;
          var c = numeric ? x - y : x.localeCompare(y, undefined, {numeric: true});
          return ascending ? c : -c;
        });
        rows.forEach(function (r) { body.appendChild(r); });
      });
    });
  });
  var table = document.getElementById("examples-table");
  if (!table) return;
  function byId(id) { return document.getElementById(id); }
  var outcome = byId("f-outcome"), verdict = byId("f-verdict"), metric = byId("f-metric"),
      op = byId("f-op"), limit = byId("f-limit"), text = byId("f-text"), count = byId("f-count");
  function apply() {
    var rows = table.tBodies[0].rows, shown = 0;
    var bound = limit.value.trim() === "" ? NaN : parseFloat(limit.value);
    var words = text.value.trim().toLowerCase();
    for (var r = 0; r < rows.length; r++) {
      var row = rows[r];
      var ok = (!outcome.value || row.getAttribute("data-outcome") === outcome.value) &&
               (!verdict.value || row.getAttribute("data-verdict") === verdict.value);
      if (ok && !isNaN(bound)) {
        var v = row.getAttribute("data-m-" + metric.value);
        ok = v !== null && v !== "" && (op.value === "lt" ? parseFloat(v) < bound : parseFloat(v) >= bound);
      }
      if (ok && words) ok = row.textContent.toLowerCase().indexOf(words) >= 0;
      row.hidden = !ok;
      if (ok) shown++;
    }
    count.textContent = shown + " of " + rows.length + " examples shown";
  }
  [outcome, verdict, metric, op, limit, text].forEach(function (c) {
    c.addEventListener("input", apply);
    c.addEventListener("change", apply);
  });
  apply();
})();
"""
_SCRIPT_HASH = base64.b64encode(hashlib.sha256(_SCRIPT.encode("utf-8")).digest()).decode("ascii")
# nothing is fetched; the one script that may run is ours (by its hash): an injected <script> or
# onerror= attribute would not run even if escaping ever failed
_CSP = (f"default-src 'none'; style-src 'unsafe-inline'; script-src 'sha256-{_SCRIPT_HASH}'; "
        "base-uri 'none'; form-action 'none'")


def _num(value: Any, digits: int = 3) -> str:
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (int, float)):
        if isinstance(value, float) and not math.isfinite(value):
            return "–"
        if isinstance(value, float) and abs(value) >= 10 ** digits:
            return f"{value:.0f}"  # 1534 MB, not 1.53e+03
        return f"{value:.{digits}g}" if isinstance(value, float) else str(value)
    return escape(str(value))


def _sort_key(value: Any) -> str:
    """A number as a cell's data-sort attribute ("" when missing: sorted last)."""
    if value is None or isinstance(value, bool) or not is_number(value) or not math.isfinite(float(value)):
        return ""
    return repr(float(value))


def _header(names: Sequence[str], numeric: Sequence[bool], sortable: bool,
            sorted_by: int | None = None) -> str:
    if not sortable:
        return "<thead><tr>" + "".join(f"<th>{escape(h)}</th>" for h in names) + "</tr></thead>"
    cells = []
    for i, (name, is_num) in enumerate(zip(names, numeric)):
        state = "ascending" if i == sorted_by else "none"
        kind = "num" if is_num else "text"
        cells.append(f'<th scope="col" aria-sort="{state}" data-type="{kind}"><button type="button" '
                     f'title="sort by {escape(name)}">{escape(name)}<span class="arrow" aria-hidden="true"></span>'
                     "</button></th>")
    return "<thead><tr>" + "".join(cells) + "</tr></thead>"


def _table(rows: Sequence[Sequence[Any]], header: Sequence[str] | None = None, *, sortable: bool = False,
           table_id: str | None = None) -> str:
    rows = [list(row) for row in rows]
    numeric = [all(is_number(row[i]) or row[i] is None for row in rows) and any(is_number(row[i]) for row in rows)
               for i in range(len(header or (rows[0] if rows else ())))]
    attrs = (f' id="{escape(table_id)}"' if table_id else "") + (' class="sortable"' if sortable else "")
    out = [f"<table{attrs}>"]
    if header is not None:
        out.append(_header(header, numeric, sortable))
    out.append("<tbody>")
    for row in rows:
        cells = []
        for cell in row:
            if is_number(cell):
                cells.append(f'<td class="num" data-sort="{_sort_key(cell)}">{_num(cell)}</td>')
            else:
                cells.append(f"<td>{_num(cell)}</td>")
        out.append("<tr>" + "".join(cells) + "</tr>")
    out.append("</tbody></table>")
    return "\n".join(out)


def _page(title: str, body: str, *, script: bool = False) -> str:
    tail = f"\n<script>{_SCRIPT}</script>" if script else ""
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{escape(title)}</title><style>{_STYLE}</style></head><body>\n<h1>{escape(title)}</h1>\n"
            f"{body}{tail}\n</body></html>\n")


def _key_metrics(summary: Mapping[str, Any]) -> list[tuple[str, Any]]:
    q, e = summary["quality"], summary["efficiency"]
    energy, per = summary.get("energy") or {}, summary.get("per") or {}
    rows: list[tuple[str, Any]] = [
        ("examples", q["examples"]), ("errors", q["errors"]), ("exact match", q["exact_match"]), ("token F1", q["f1"]),
        ("answer contains a gold answer", q.get("answer_contains")),
        ("NLI answer correctness", q.get("nli_correct")),
        ("correct means", _CORRECT_MEANS.get(q.get("correct_by"), "token F1 ≥ 0.5")),
        ("abstention rate", q["abstention_rate"]), ("citation precision", q["citation_precision"]),
        ("citation recall", q["citation_recall"]),
        ("citation judged by", ", ".join(q["citation_method"]) or None),
        ("faithfulness (mean)", q["faithfulness"]), ("verifier confidence (mean)", q["confidence"]),
        ("supported answers", q["supported_rate"]),
    ]
    rows += [(name, value) for name, value in q["retrieval"].items()]
    rows += [("latency p50 (s)", e["latency_p50"]), ("latency p95 (s)", e["latency_p95"]),
             ("answer tokens/s (end to end)", e["tokens_per_second"]),
             ("prompt tokens/s (reading the prompt)", e.get("prompt_tokens_per_second")),
             ("answer tokens/s (writing the answer)", e.get("completion_tokens_per_second")),
             ("peak RSS (MB)", e["peak_rss_mb"]), ("CPU seconds", e["cpu_seconds"]),
             ("energy per answer (J)", energy.get("joules_per_answer")),
             ("CO2 per answer (g)", energy.get("co2_grams_per_answer")),
             ("PER", per.get("per")), ("PER accuracy metric", per.get("accuracy_metric"))]
    return rows


# -- one example: its outcome, its row in the table and its detail section ---------------------

OUTCOMES = ("correct", "wrong", "abstained", "error", "unscored")
_OUTCOME_TEXT = {"correct": "✓ correct", "wrong": "✗ wrong", "abstained": "– abstained", "error": "! error",
                 "unscored": "unscored"}
VERDICTS = ("supported", "unsupported", "contradicted", "unverified")
_VERDICT_TEXT = {"supported": "✓ supported", "unsupported": "? unsupported", "contradicted": "✗ contradicted",
                 "unverified": "not verified"}
# the metrics the table shows and filters by: (record key, column title)
METRICS = (("f1", "F1"), ("em", "EM"), ("confidence", "confidence"), ("faithfulness", "faithfulness"),
           ("citation_precision", "cit. precision"), ("citation_recall", "cit. recall"), ("latency", "latency (s)"))


def outcome(record: Mapping[str, Any]) -> str:
    """error, abstained, correct or wrong (by the record's `correct`), or unscored (no gold answer)."""
    if record.get("error"):
        return "error"
    if record.get("abstained"):
        return "abstained"
    correct = record.get("correct")
    return "unscored" if correct is None else ("correct" if correct else "wrong")


def verdict(record: Mapping[str, Any]) -> str:
    """The answer's verdict from its claims: contradicted if any claim is, else unsupported if any
    claim is, else supported; unverified without claims (no verifier, or no answer)."""
    labels = {c.get("label") for c in (record.get("response") or {}).get("claims") or ()}
    if not labels:
        return "unverified"
    for label in ("contradicted", "unsupported"):
        if label in labels:
            return label
    return "supported"


def failed(record: Mapping[str, Any]) -> bool:
    """Worth a detail section: an error, a wrong (or abstained) answer, or a token F1 below LOW_F1."""
    f1 = record.get("f1")
    return bool(record.get("error")) or record.get("correct") is False or (f1 is not None and f1 < LOW_F1)


def _anchor(record: Mapping[str, Any]) -> str:
    return f"ex-{int(record['position'])}"


def _weakest_first(record: Mapping[str, Any]) -> tuple:
    f1 = record.get("f1")
    return (f1 is None, f1 if f1 is not None else 0.0, record["position"])


def _cell(value: Any, text: str | None = None) -> str:
    if is_number(value) and not isinstance(value, bool):
        return f'<td class="num" data-sort="{_sort_key(value)}">{_num(value) if text is None else text}</td>'
    return '<td class="num" data-sort="">–</td>' if value is None else f"<td>{_num(value)}</td>"


def _examples_table(records: Sequence[Mapping[str, Any]], detailed: set[int]) -> str:
    """Every example (the weakest first, up to MAX_ROWS) with filters above; rows carry their
    outcome, verdict and metric values as data- attributes for the script."""
    shown = sorted(records, key=_weakest_first)[:MAX_ROWS]
    counts = {o: sum(outcome(r) == o for r in records) for o in OUTCOMES}
    verdicts = {v: sum(verdict(r) == v for r in records) for v in VERDICTS}
    options = "".join(f'<option value="{o}">{o} ({counts[o]})</option>' for o in OUTCOMES if counts[o])
    verdict_options = "".join(f'<option value="{v}">{escape(_VERDICT_TEXT[v])} ({verdicts[v]})</option>'
                              for v in VERDICTS if verdicts[v])
    metric_options = "".join(f'<option value="{key}">{escape(title)}</option>' for key, title in METRICS)
    controls = [
        ("f-outcome", "outcome", f'<select id="f-outcome"><option value="">all ({len(records)})</option>'
                                 f"{options}</select>"),
        ("f-verdict", "verdict", f'<select id="f-verdict"><option value="">any</option>{verdict_options}</select>'),
        ("f-metric", "metric", f'<select id="f-metric">{metric_options}</select>'),
        ("f-op", "is", '<select id="f-op"><option value="lt">below</option><option value="ge">at least</option>'
                       "</select>"),
        ("f-limit", "value", '<input id="f-limit" type="number" step="any" size="6" placeholder="e.g. 0.5">'),
        ("f-text", "text", '<input id="f-text" type="search" placeholder="id, question, answer…">'),
    ]
    filters = ('<div class="filters" role="group" aria-label="filter the examples">'
               + "".join(f'<span><label for="{key}">{name}</label>{control}</span>' for key, name, control in controls)
               + f'<output id="f-count" aria-live="polite">{len(shown)} of {len(shown)} examples shown</output></div>')
    header = ["#", "id", "question", "answer", "gold", "outcome", "verdict", *(t for _, t in METRICS), "details"]
    numeric = [True, False, False, False, False, False, False, *([True] * len(METRICS)), False]
    out = [filters, '<div class="scroll"><table id="examples-table" class="sortable">',
           _header(header, numeric, True, sorted_by=header.index("F1")), "<tbody>"]
    for r in shown:
        result, judged = outcome(r), verdict(r)
        data = "".join(f' data-m-{key}="{_sort_key(r.get(key))}"' for key, _ in METRICS)
        link = (f'<a href="#{_anchor(r)}" aria-label="details of example {escape(str(r["id"]))}">details</a>'
                if r["position"] in detailed else "")
        answer = r.get("answer")
        cells = [_cell(r["position"] + 1), f"<td>{escape(str(r['id']))}</td>",
                 f'<td class="text">{escape(str(r.get("question") or ""))}</td>',
                 f'<td class="text">{"–" if answer is None else escape(str(answer))}</td>',
                 f'<td class="text">{escape(" | ".join(str(g) for g in r.get("gold_answers") or ()))}</td>',
                 f'<td class="{result}">{escape(_OUTCOME_TEXT[result])}</td>',
                 f'<td class="{judged}">{escape(_VERDICT_TEXT[judged])}</td>',
                 *(_cell(r.get(key)) for key, _ in METRICS), f"<td>{link}</td>"]
        out.append(f'<tr data-outcome="{result}" data-verdict="{judged}"{data}>' + "".join(cells) + "</tr>")
    out.append("</tbody></table></div>")
    if len(records) > len(shown):
        out.append(f'<p class="note">The {len(shown)} weakest of {len(records)} examples are listed.</p>')
    return "\n".join(out)


def _where(item: Mapping[str, Any]) -> tuple[Any, Any]:
    """A block's page ("14", or "2\u20133" for a chunk over two pages) and section, from its
    metadata or its own keys; None when unknown."""
    meta = item.get("metadata") if isinstance(item.get("metadata"), Mapping) else {}
    page = meta.get("page", item.get("page"))
    last = meta.get("page_end", item.get("page_end"))
    if page is not None and is_number(last) and is_number(page) and last > page:
        page = f"{page}\u2013{last}"
    return (page, meta.get("section", item.get("section")))


def _claims_table(claims: Sequence[Mapping[str, Any]]) -> str:
    rows = ['<table class="claims"><thead><tr><th>claim</th><th>cites</th><th>verdict</th>'
            "<th>P(entail), cited</th><th>P(contradict), cited</th><th>P(entail), all</th><th>best block</th>"
            "<th>flags</th></tr></thead><tbody>"]
    for c in claims:
        label = str(c.get("label") or "")
        css = label if label in _VERDICT_TEXT else "unverified"
        cites = " ".join(f"[{int(n)}]" for n in c.get("citations") or () if is_number(n))
        best = c.get("best_block")
        rows.append(f'<tr><td class="text">{escape(str(c.get("text") or ""))}</td><td>{escape(cites) or "–"}</td>'
                    f'<td class="{css}">{escape(_VERDICT_TEXT.get(label, label) or "–")}</td>'
                    f'{_cell(c.get("p_entail"))}{_cell(c.get("p_contradict"))}{_cell(c.get("p_entail_all"))}'
                    f'<td>{"–" if best is None else escape(f"[{best}]")}</td>'
                    f'<td>{escape(", ".join(str(f) for f in c.get("flags") or ())) or "–"}</td></tr>')
    rows.append("</tbody></table>")
    return "\n".join(rows)


def _evidence_table(response: Mapping[str, Any]) -> str:
    """The context blocks in prompt order ([n] is hits[n-1]), the cited ones marked; page and
    section columns only when some block has them; the text when the record kept it."""
    hits = list(response.get("hits") or ())
    citations = {int(c["n"]): c for c in response.get("citations") or () if is_number(c.get("n"))}
    if not hits and not citations:
        return '<p class="note">No context block was retrieved.</p>'
    blocks = []
    for n, hit in enumerate(hits, 1):
        cited = citations.get(n, {})
        page, section = _where(hit)
        cpage, csection = _where(cited)
        blocks.append({"n": n, "doc_id": hit.get("doc_id", cited.get("doc_id")),
                       "chunk_id": hit.get("chunk_id", cited.get("chunk_id")), "score": hit.get("score"),
                       "cited": n in citations, "page": page if page is not None else cpage,
                       "section": section if section is not None else csection,
                       "text": hit.get("text") or cited.get("text")})
    for n, c in citations.items():  # a citation whose block the record does not list
        if n > len(hits):
            page, section = _where(c)
            blocks.append({"n": n, "doc_id": c.get("doc_id"), "chunk_id": c.get("chunk_id"), "score": None,
                           "cited": True, "page": page, "section": section, "text": c.get("text")})
    has_page = any(b["page"] is not None for b in blocks)
    has_section = any(b["section"] is not None for b in blocks)
    has_text = any(b["text"] for b in blocks)
    head = ["block", "cited", "doc id", "chunk id", *(["page"] if has_page else []),
            *(["section"] if has_section else []), "score", *(["text"] if has_text else [])]
    rows = ['<table class="evidence"><thead><tr>' + "".join(f"<th>{h}</th>" for h in head) + "</tr></thead><tbody>"]
    for b in blocks:
        cells = [f"<td>[{b['n']}]</td>", f"<td>{'cited' if b['cited'] else ''}</td>",
                 f"<td>{escape(str(b['doc_id'] or '–'))}</td>", f"<td>{escape(str(b['chunk_id'] or '–'))}</td>"]
        if has_page:
            cells.append(f"<td>{'–' if b['page'] is None else escape(str(b['page']))}</td>")
        if has_section:
            cells.append(f"<td>{'–' if b['section'] is None else escape(str(b['section']))}</td>")
        cells.append(_cell(b["score"]))
        if has_text:
            cells.append(f'<td class="text">{escape(str(b["text"] or ""))}</td>')
        rows.append(f'<tr class="{"cited" if b["cited"] else ""}">' + "".join(cells) + "</tr>")
    rows.append("</tbody></table>")
    if not has_text:
        rows.append('<p class="note">results.jsonl keeps no chunk texts (they are in the index, under their '
                    "chunk id).</p>")
    return "\n".join(rows)


def _detail(record: Mapping[str, Any]) -> str:
    """One failed example: question, answer, gold answers, scores, claims with their verdicts and
    the evidence blocks."""
    anchor, result = _anchor(record), outcome(record)
    response = record.get("response") or {}
    answer = record.get("answer")
    gold = "".join(f"<li>{escape(str(g))}</li>" for g in record.get("gold_answers") or ())
    scores = " · ".join(f"{escape(title)} {_num(record.get(key))}" for key, title in METRICS
                        if record.get(key) is not None)
    fields = [("question", escape(str(record.get("question") or ""))),
              ("answer", "–" if answer is None else escape(str(answer))),
              ("gold answers", f"<ul>{gold}</ul>" if gold else "–"),
              ("outcome", f'<span class="{result}">{escape(_OUTCOME_TEXT[result])}</span>'),
              ("scores", scores or "–")]
    if record.get("error"):
        fields.append(("error", escape(str(record["error"]))))
    if response.get("query") and response.get("query") != record.get("question"):
        fields.append(("retrieval query", escape(str(response["query"]))))
    if response.get("escalated"):
        fields.append(("escalated", "yes: " + escape(" → ".join(str(a.get("generator"))
                                                                  for a in response.get("attempts") or ()))))
    out = [f'<section class="detail" id="{anchor}" aria-labelledby="{anchor}-h">',
           f'<h3 id="{anchor}-h">#{int(record["position"]) + 1} · {escape(str(record["id"]))} · '
           f'<span class="{result}">{escape(_OUTCOME_TEXT[result])}</span></h3>',
           '<dl class="fields">' + "".join(f"<dt>{name}</dt><dd>{value}</dd>" for name, value in fields) + "</dl>"]
    if response:
        claims = response.get("claims") or ()
        out.append("<h4>Claims</h4>")
        out.append(_claims_table(claims) if claims else '<p class="note">No verifier judged this answer.</p>')
        out.append("<h4>Evidence</h4>")
        out.append(_evidence_table(response))
    out.append('<p><a href="#examples">back to the examples</a></p></section>')
    return "\n".join(out)


def write_report(out_dir: str | Path, summary: Mapping[str, Any], records: Sequence[Mapping[str, Any]]) -> Path:
    """report.html for one run: key figures, plots, configuration, a sortable and filterable table
    of the examples, and a detail section for each failed one."""
    from smallrag.verifiers.calibration import reliability_bins

    out_dir = Path(out_dir)
    records = sorted(records, key=lambda r: r["position"])
    config = summary["config"]
    k = summary["k"]
    plots = [svg.histogram([r["f1"] for r in records if r["f1"] is not None], title="Token F1 per answer",
                           x_label="token F1", y_label="answers", lo=0.0, hi=1.0)]
    _means, per_query = retrieval_scores(records, k)
    if per_query:
        plots.append(svg.histogram(list(per_query[f"ndcg@{k}"].values()), title=f"nDCG@{k} per question",
                                   x_label=f"nDCG@{k}", y_label="questions", lo=0.0, hi=1.0))
    confidences = [r["confidence"] for r in records if r["confidence"] is not None]
    if confidences:
        plots.append(svg.histogram(confidences, title="Verifier confidence", x_label="verifier confidence",
                                   y_label="answers", lo=0.0, hi=1.0))
    plots.append(svg.histogram([r["latency"] for r in records], title="Latency per answer", x_label="latency (s)",
                               y_label="answers", lo=0.0))
    correct_means = _CORRECT_MEANS.get(summary["quality"].get("correct_by"), "token F1 ≥ 0.5")
    labelled = [(r["confidence"], r["correct"]) for r in records
                if r["confidence"] is not None and r["correct"] is not None]
    if labelled:
        bins = reliability_bins([c for c, _ in labelled], [int(y) for _, y in labelled])
        plots.append(svg.reliability(bins, title="Reliability: confidence vs correct",
                                     y_label="share of answers correct"))
    per = summary.get("per")
    if per:
        plots.append(svg.bars(["throughput", "latency", "memory", "efficiency", "PER"],
                              [per["throughput_factor"], per["latency_factor"], per["memory_factor"],
                               per["efficiency"], per["per"]],
                              title="PER and its efficiency factors", y_label="factor (1 = reference)",
                              reference=1.0))

    pipeline = config.get("pipeline", {})
    config_rows = [(key, json.dumps(value, ensure_ascii=False) if isinstance(value, (dict, list)) else value)
                   for key, value in pipeline.items()]
    dataset = dict(config.get("dataset") or {})
    if not dataset.get("documents"):  # a questions-only file: its corpus is the index, not 0 documents
        dataset.pop("documents", None)
    config_rows += [("dataset", json.dumps(dataset, ensure_ascii=False)),
                    ("engine", config.get("engine")), ("citation NLI", config.get("citation_nli")),
                    ("versions", json.dumps(config.get("versions"), ensure_ascii=False))]
    energy = summary.get("energy") or {}
    failures = sorted((r for r in records if failed(r)), key=_weakest_first)
    detailed = failures[:MAX_DETAILS]
    body = [
        "<h2>Results</h2>", _table(_key_metrics(summary), ["metric", "value"]),
        '<p class="note">Exact match and token F1 use the SQuAD v1.1 normalisation, with the [n] citation markers '
        "removed. Citation precision/recall: see eval/metrics.py. PER = accuracy × geometric mean of "
        "(tokens/s ÷ 10, 1 s ÷ p50 latency, 1024 MB ÷ peak RSS) (eval/per.py). Energy = CPU seconds × "
        f"{_num(energy.get('cpu_watts'))} W per busy core; CO2 = energy × {_num(energy.get('grid_intensity'))} "
        "g/kWh: an estimate of the CPU work, not a meter reading.</p>",
        "<h2>Plots</h2>", '<div class="plots">' + "\n".join(plots) + "</div>",
        '<p class="note">Histograms count answers (or questions) per bin; scores run from 0 to 1. '
        f"Reliability: an answer is correct when {escape(correct_means)}; the dashed diagonal is perfect "
        "calibration, a point's size its number of answers.</p>",
        "<h2>Configuration</h2>", _table(config_rows, ["setting", "value"]),
    ]
    if records:
        body += ['<h2 id="examples">Examples</h2>',
                 '<p class="note">The weakest answers first (by token F1). Click a column header to sort by it; '
                 "the filters hide the rows that do not match. Outcome: correct when "
                 f"{escape(correct_means)}. Verdict: "
                 "the verifier's judgement of the answer's claims (contradicted if any claim is, unsupported if "
                 "any is). A failed answer (an error, a wrong answer, an abstention or token F1 below "
                 f"{LOW_F1}) links to its details.</p>",
                 _examples_table(records, {r["position"] for r in detailed})]
    if detailed:
        body += [f'<h2 id="failed">Failed examples ({len(detailed)}'
                 + (f" weakest of {len(failures)}" if len(failures) > len(detailed) else "") + ")</h2>",
                 *(_detail(r) for r in sorted(detailed, key=lambda r: r["position"]))]
    name = config.get("dataset", {}).get("name", "dataset")
    generator = pipeline.get("generator", "?")
    path = out_dir / REPORT_FILE
    path.write_text(_page(f"smallrag evaluation: {name} with {generator}", "\n".join(body), script=True),
                    encoding="utf-8")
    return path


# -- comparing runs ----------------------------------------------------------------------------

COLUMNS = ("run", "generator", "examples", "exact_match", "f1", "ndcg", "citation_precision", "citation_recall",
           "abstention_rate", "faithfulness", "latency_p50", "latency_p95", "tokens_per_second", "peak_rss_mb",
           "joules_per_answer", "co2_grams_per_answer", "per", "per_vs_first")


@dataclass(frozen=True)
class Comparison:
    columns: tuple[str, ...]
    rows: tuple[dict[str, Any], ...]
    report: Path | None

    def to_json(self) -> dict[str, Any]:
        return {"columns": list(self.columns), "rows": [dict(r) for r in self.rows],
                "report": None if self.report is None else str(self.report)}

    def format_table(self) -> str:
        """A plain-text table, one line per run."""
        cells = [[c for c in self.columns]] + [[_plain(r[c]) for c in self.columns] for r in self.rows]
        widths = [max(len(row[i]) for row in cells) for i in range(len(self.columns))]
        return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in cells)


def _plain(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _labels(run_dirs: Sequence[Path]) -> list[str]:
    names = [p.resolve().name for p in run_dirs]
    return names if len(set(names)) == len(names) else [str(p) for p in run_dirs]


def compare_runs(run_dirs: Sequence[str | Path], out: str | Path | None = None) -> Comparison:
    """One row per run (read from each summary.json); with `out`, also compare.html there.
    `per_vs_first` is each run's PER divided by the first run's (independent of PER's reference point)."""
    from smallrag.core.errors import SmallragError

    if not run_dirs:
        raise SmallragError("compare needs at least one run folder")
    paths = [Path(p) for p in run_dirs]
    summaries = [read_summary(p) for p in paths]
    rows = []
    first_per = None
    for label, s in zip(_labels(paths), summaries):
        q, e = s["quality"], s["efficiency"]
        energy, per = s.get("energy") or {}, s.get("per") or {}
        ndcg = next((v for m, v in q["retrieval"].items() if m.startswith("ndcg@")), None)
        value = per.get("per")
        if first_per is None and not rows:
            first_per = value
        rows.append({
            "run": label, "generator": s["config"].get("pipeline", {}).get("generator"), "examples": q["examples"],
            "exact_match": q["exact_match"], "f1": q["f1"], "ndcg": ndcg,
            "citation_precision": q["citation_precision"], "citation_recall": q["citation_recall"],
            "abstention_rate": q["abstention_rate"], "faithfulness": q["faithfulness"],
            "latency_p50": e["latency_p50"], "latency_p95": e["latency_p95"],
            "tokens_per_second": e["tokens_per_second"], "peak_rss_mb": e["peak_rss_mb"],
            "joules_per_answer": energy.get("joules_per_answer"),
            "co2_grams_per_answer": energy.get("co2_grams_per_answer"), "per": value,
            "per_vs_first": (value / first_per) if value is not None and first_per else None,
        })
    report = None
    if out is not None:
        report = Path(out)
        labels = [r["run"] for r in rows]
        plots = [svg.bars(labels, [r["per"] for r in rows], title="PER per run", y_label="PER"),
                 svg.bars(labels, [r["f1"] if r["f1"] is not None else r["ndcg"] for r in rows],
                          title="Accuracy (F1, else nDCG)", y_label="score (0–1)", hi=1.0),
                 svg.bars(labels, [r["latency_p50"] for r in rows], title="Latency p50", y_label="latency (s)"),
                 svg.bars(labels, [r["joules_per_answer"] for r in rows], title="Energy per answer",
                          y_label="energy (J, estimate)")]
        table = _table([[r[c] for c in COLUMNS] for r in rows], list(COLUMNS), sortable=True,
                       table_id="runs-table")
        body = "\n".join(["<h2>Runs</h2>", table, "<h2>Plots</h2>", '<div class="plots">' + "\n".join(plots) + "</div>",
                          '<p class="note">Each row is read from the run\'s summary.json. per_vs_first is the PER '
                          "ratio to the first run. Click a column header to sort by it.</p>"])
        report.write_text(_page("smallrag evaluation: comparison", body, script=True), encoding="utf-8")
    return Comparison(COLUMNS, tuple(rows), report)
