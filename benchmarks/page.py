"""The web page, measured in a real browser: time from pressing Ask to the first streamed
character and to the full verified answer, with the default generator (Qwen2.5-Coder-1.5B,
llama.cpp) and the shipped NLI verifier over the demo corpus; plus the page's weight and the
requests it makes. The page itself records the times (performance.now(), `window.smallragTimings`).

Usage:  HF_HUB_OFFLINE=1 python benchmarks/page.py [--generator SPEC] [--questions N]
Ends with ONE JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

REPO = Path(__file__).resolve().parents[1]
QUESTIONS = ["Who invented the pneumatic tyre?", "Why is Venus hotter than Mercury?",
             "What gas do plants release during photosynthesis, and where does it come from?",
             "How do volcanoes form?", "Where was coffee first cultivated?"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--generator", default=None, help="generator spec (default: the packaged Qwen 1.5B)")
    parser.add_argument("--questions", type=int, default=len(QUESTIONS))
    args = parser.parse_args()

    import numpy as np
    import uvicorn
    from playwright.sync_api import sync_playwright

    from smallrag.indexes.builder import build_index
    from smallrag.ingest import load_documents
    from smallrag.pipeline import RAG
    from smallrag.server import create_app

    with tempfile.TemporaryDirectory(prefix="smallrag-page-") as tmp:
        index = Path(tmp) / "demo-index"
        build_index(load_documents([REPO / "data" / "sample"]).documents, index, progress=False)
        rag = RAG.from_index(index, generator=args.generator, verifier="nli", progress=False)
        rag.generator.generate("Hello.", max_tokens=1)  # the model loaded before timing, as in a running server
        server = uvicorn.Server(uvicorn.Config(create_app(rag), host="127.0.0.1", port=0, log_level="error",
                                               lifespan="off"))
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        while not server.started:
            time.sleep(0.05)
        url = f"http://127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}/"
        requests: list[tuple[str, str]] = []
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=shutil.which("chromium"),
                                        args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"])
            page = browser.new_page()
            page.on("request", lambda r: requests.append((r.method, r.url)))
            response = page.goto(url)
            weight = len(response.body())
            for question in QUESTIONS[:args.questions]:
                page.click("#new-conversation")  # each question on its own, as a new visitor asks it
                page.fill("#question", question)
                page.click("#ask")
                page.locator("#status", has_text="Answered").wait_for(timeout=300_000)
                print(f"  {question}: {page.locator('#status').inner_text()}", flush=True)
            timings = page.evaluate("window.smallragTimings")
            browser.close()
        server.should_exit = True
        thread.join(30)
    first = [(t["first"] - t["asked"]) / 1000 for t in timings]
    done = [(t["done"] - t["asked"]) / 1000 for t in timings]
    figures = {
        "benchmark": "page", "generator": rag.generator.name, "verifier": getattr(rag.verifier, "name", None),
        "questions": len(timings), "load_average": os.getloadavg(),
        "first_char_s": [round(x, 2) for x in first], "verified_answer_s": [round(x, 2) for x in done],
        "first_char_p50_s": round(float(np.median(first)), 2), "verified_answer_p50_s": round(float(np.median(done)), 2),
        "page_bytes": weight, "requests": len(requests),
        "requests_by_kind": {"GET /": sum(m == "GET" for m, _ in requests), "POST /ask": sum(m == "POST" for m, _ in requests)},
        "other_hosts": sorted({u.split("/")[2] for _, u in requests} - {url.split("/")[2]}),
    }
    print(json.dumps(figures))


if __name__ == "__main__":
    sys.exit(main())
