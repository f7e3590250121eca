"""A local HTTP server that speaks arXiv's API and OAI-PMH, for tests and benchmarks.

    python -m papertrends.devkit.arxiv_stub_server --papers 500 --port 8766

serves generated papers as
- ``GET /api/query?search_query=...&start=N&max_results=M`` (Atom, the 2026 dialect; a
  malformed ``id_list`` answers HTTP 400 with an "Error" entry, like arXiv), and
- ``GET /oai?verb=ListRecords&metadataPrefix=arXiv|arXivRaw[&set=&from=&until=]`` then
  ``&resumptionToken=...`` (pages of ``oai_page_size`` records; every ``deleted_every``-th record
  is a deleted one; an unknown token answers ``badResumptionToken``).
``script(n, response)`` makes the n-th request (0-based) get a canned answer instead, e.g. 503
with Retry-After; ``hold(n)`` makes the n-th request wait until ``release()`` (so a test can kill
a client between pages). ``generate_arxiv_papers`` is also what the snapshot benchmark writes.
Standard library only.
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import sys
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit
from xml.sax.saxutils import escape, quoteattr

__all__ = ["ArxivServer", "Canned", "generate_arxiv_papers", "iter_arxiv_papers", "main"]

CATEGORIES = ("cs.LG", "cs.CL", "cs.CV", "stat.ML", "math.OC", "cond-mat.str-el", "hep-th", "quant-ph")
WORDS = (
    "learning", "graph", "neural", "sparse", "attention", "kernel", "quantum", "lattice", "robust",
    "language", "model", "inference", "scaling", "tractable", "diffusion", "spectral", "causal", "policy",
    "estimation", "transformer", "bound", "optimal", "stochastic", "gradient", "entropy", "symmetry",
)
FIRST = ("Ana", "Bal\\'azs", "Chen", "Dmitri", "Elif", "Fatima", "G\\\"unter", "Hiro", "Ines", "Jo\\~ao")
LAST = ("Smith", "Nadolsky", "Garc\\'ia", "M\\\"uller", "Okafor", "Tanaka", "Rossi", "Kowalski", "Yuan", "Berger")
_RFC2822 = "%a, %d %b %Y %H:%M:%S GMT"


def generate_arxiv_papers(count: int, *, seed: int = 1, first_day: dt.date = dt.date(2024, 1, 1)) -> list[dict]:
    """`count` papers in the metadata snapshot's shape (one dict per line), deterministic from `seed`.

    About one in 25 has an old-style id (``hep-th/9901001``-like); versions, categories (primary
    first), DOI, journal ref and license are sometimes present, sometimes null, like the real file.
    """
    return list(iter_arxiv_papers(count, seed=seed, first_day=first_day))


def iter_arxiv_papers(count: int, *, seed: int = 1, first_day: dt.date = dt.date(2024, 1, 1)):
    """generate_arxiv_papers one paper at a time (for snapshots too big to hold)."""
    rng = random.Random(seed)
    for n in range(count):
        day = first_day + dt.timedelta(days=n * 365 // max(count, 1))
        created = dt.datetime(day.year, day.month, day.day, rng.randrange(24), rng.randrange(60), rng.randrange(60))
        if n % 25 == 7:
            archive = rng.choice(("hep-th", "cond-mat", "math"))
            paper_id = f"{archive}/{created:%y%m}{n // 25 % 1000:03d}"
        else:
            paper_id = f"{created:%y%m}.{n % 100000:05d}"
        versions = [{"version": "v1", "created": created.strftime(_RFC2822)}]
        for v in range(2, 2 + rng.choice((0, 0, 1, 2))):
            created = created + dt.timedelta(days=rng.randrange(1, 90), hours=rng.randrange(24))
            versions.append({"version": f"v{v}", "created": created.strftime(_RFC2822)})
        parsed = [[rng.choice(LAST), rng.choice(FIRST), ""] for _ in range(rng.randrange(1, 6))]
        title_words = rng.sample(WORDS, rng.randrange(4, 9))
        title = " ".join(title_words).capitalize()
        if rng.random() < 0.3:
            title = title.replace(" ", "\n  ", 1)  # arXiv line wraps
        abstract = "  " + " ".join(rng.choice(WORDS) for _ in range(rng.randrange(60, 160))) + ".\n"
        categories = rng.sample(CATEGORIES, rng.randrange(1, 4))
        yield {
            "id": paper_id,
            "submitter": f"{parsed[0][1]} {parsed[0][0]}",
            "authors": ", ".join(f"{first} {last}" for last, first, _ in parsed),
            "title": title,
            "comments": f"{rng.randrange(4, 40)} pages" if rng.random() < 0.6 else None,
            "journal-ref": f"J. Gen. {rng.randrange(1, 99)} ({day.year})" if rng.random() < 0.2 else None,
            "doi": f"10.1000/gen.{n}" if rng.random() < 0.2 else None,
            "report-no": None,
            "categories": " ".join(categories),
            "license": "http://creativecommons.org/licenses/by/4.0/" if rng.random() < 0.5 else None,
            "abstract": abstract,
            "versions": versions,
            "update_date": created.date().isoformat(),
            "authors_parsed": parsed,
        }


@dataclass
class Canned:
    """One canned answer."""

    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


class ArxivServer:
    """Serve `papers` (snapshot-shaped dicts) over arXiv's API and OAI-PMH on 127.0.0.1.

    Attributes:
        requests: Every request, in order: ``{"path", "query", "headers", "at"}``.
    """

    def __init__(self, papers: list[dict], *, oai_page_size: int = 10, deleted_every: int = 0, port: int = 0):
        """Prepare a server; nothing listens until ``start()`` (port 0 = any free port)."""
        self.papers = papers
        self.oai_page_size = oai_page_size
        self.deleted_every = deleted_every
        self.port = port
        self.requests: list[dict] = []
        self._canned: dict[int, Canned] = {}
        self._held: dict[int, threading.Event] = {}
        self._lock = threading.Lock()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>``."""
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    @property
    def oai_url(self) -> str:
        """The OAI-PMH endpoint."""
        return self.base_url + "/oai"

    @property
    def api_url(self) -> str:
        """The API query endpoint."""
        return self.base_url + "/api/query"

    def script(self, request_number: int, answer: Canned) -> None:
        """Answer the `request_number`-th request (0-based, counting every request) with `answer`."""
        self._canned[request_number] = answer

    def hold(self, request_number: int) -> threading.Event:
        """Make the `request_number`-th request wait until ``release()``; returns an event set when it arrives."""
        arrived = threading.Event()
        self._held[request_number] = arrived
        return arrived

    def release(self) -> None:
        """Let held requests go (they are answered normally)."""
        with self._lock:
            self._held.clear()
            self._released = True

    def start(self) -> ArxivServer:
        """Bind to 127.0.0.1 and serve in a daemon thread."""
        self._released = False
        self._httpd = ThreadingHTTPServer(("127.0.0.1", self.port), _Handler)
        self._httpd.daemon_threads = True
        self._httpd.app = self
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.01,), daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and release the port."""
        if self._httpd is not None:
            self.release()
            self._httpd.shutdown()
            self._httpd.server_close()
            self._thread.join(timeout=5)
            self._httpd = None

    def __enter__(self) -> ArxivServer:
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()

    # --- answers ---

    def _answer(self, path: str, query: dict[str, str], number: int) -> Canned:
        held = self._held.get(number)
        if held is not None:
            held.set()
            while not self._released:
                time.sleep(0.02)
        if number in self._canned:
            return self._canned[number]
        if path == "/api/query":
            return self._api(query)
        if path in ("/oai", "/oai2"):
            return self._oai(query)
        return Canned(404, b"not found", {"Content-Type": "text/plain"})

    def _api(self, query: dict[str, str]) -> Canned:
        if query.get("id_list") and not all(_looks_like_id(i) for i in query["id_list"].split(",")):
            bad = query["id_list"]
            return Canned(400, _atom_error(f"incorrect id format for {bad}"), {"Content-Type": "application/atom+xml"})
        start, size = int(query.get("start", 0)), int(query.get("max_results", 10))
        matching = [p for p in self.papers if _matches(p, query.get("search_query", ""))]
        page = matching[start:start + size]
        return Canned(200, _atom_feed(page, len(matching), start, size), {"Content-Type": "application/atom+xml; charset=utf-8"})

    def _oai(self, query: dict[str, str]) -> Canned:
        if query.get("verb") != "ListRecords":
            return Canned(200, _oai_error("badVerb", "only ListRecords here"), _XML)
        token = query.get("resumptionToken")
        if token:
            try:
                prefix, set_spec, offset = token.split("|")
                offset = int(offset)
            except ValueError:
                return Canned(200, _oai_error("badResumptionToken", f"unknown token {token}"), _XML)
        else:
            prefix, set_spec, offset = query.get("metadataPrefix", ""), query.get("set", ""), 0
            if prefix not in ("arXiv", "arXivRaw"):
                return Canned(200, _oai_error("cannotDisseminateFormat", prefix), _XML)
        selected = [p for p in self.papers if not set_spec or any(c.split(".")[0].startswith(set_spec) for c in p["categories"].split())]
        if not selected:
            return Canned(200, _oai_error("noRecordsMatch", "no records"), _XML)
        page = selected[offset:offset + self.oai_page_size]
        following = offset + len(page)
        records = "".join(
            _oai_deleted(p) if self.deleted_every and (offset + i + 1) % self.deleted_every == 0 else _oai_record(p, prefix)
            for i, p in enumerate(page)
        )
        if following < len(selected):
            token_xml = f'<resumptionToken cursor="{offset}" completeListSize="{len(selected)}">{prefix}|{set_spec}|{following}</resumptionToken>'
        else:
            token_xml = f'<resumptionToken cursor="{offset}" completeListSize="{len(selected)}"/>'
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            '<OAI-PMH xmlns="http://www.openarchives.org/OAI/2.0/" '
            'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
            f"<responseDate>{dt.datetime.now(dt.timezone.utc):%Y-%m-%dT%H:%M:%SZ}</responseDate>"
            '<request verb="ListRecords">http://127.0.0.1/oai</request>'
            f"<ListRecords>{records}{token_xml}</ListRecords></OAI-PMH>"
        )
        return Canned(200, body.encode("utf-8"), _XML)


_XML = {"Content-Type": "text/xml; charset=utf-8"}


def _looks_like_id(text: str) -> bool:
    import re

    return bool(re.fullmatch(r"\d{4}\.\d{4,5}(v\d+)?|[a-z-]+(\.[A-Z]{2})?/\d{7}(v\d+)?", text))


def _matches(paper: dict, search_query: str) -> bool:
    """A tiny subset of the query language: cat:X and submittedDate:[YYYYMMDDHHMM TO YYYYMMDDHHMM]."""
    import re

    for category in re.findall(r"cat:(\S+)", search_query):
        if category not in paper["categories"].split():
            return False
    window = re.search(r"submittedDate:\[(\d{8})\d* TO (\d{8})\d*\]", search_query)
    if window:
        v1 = dt.datetime.strptime(paper["versions"][0]["created"], _RFC2822).strftime("%Y%m%d")
        if not window.group(1) <= v1 <= window.group(2):
            return False
    return True


def _iso(rfc2822: str) -> str:
    return dt.datetime.strptime(rfc2822, _RFC2822).strftime("%Y-%m-%dT%H:%M:%SZ")


def _names(paper: dict) -> list[str]:
    return [f"{first} {last}".strip() for last, first, _ in paper["authors_parsed"]]


def _atom_entry(paper: dict) -> str:
    versions = paper["versions"]
    categories = paper["categories"].split()
    optional = "".join(
        f"<arxiv:{tag}>{escape(paper[key])}</arxiv:{tag}>"
        for tag, key in (("comment", "comments"), ("journal_ref", "journal-ref"), ("doi", "doi"))
        if paper.get(key)
    )
    return (
        f"<entry><id>http://arxiv.org/abs/{paper['id']}{versions[-1]['version']}</id>"
        f"<title>{escape(' '.join(paper['title'].split()))}</title>"
        f"<updated>{_iso(versions[-1]['created'])}</updated>"
        f"<summary>{escape(' '.join(paper['abstract'].split()))}</summary>"
        + "".join(f'<category term={quoteattr(c)} scheme="http://arxiv.org/schemas/atom"/>' for c in categories)
        + f"<published>{_iso(versions[0]['created'])}</published>{optional}"
        f"<arxiv:primary_category term={quoteattr(categories[0])}/>"
        + "".join(f"<author><name>{escape(n)}</name></author>" for n in _names(paper))
        + "</entry>"
    )


def _atom_feed(papers: list[dict], total: int, start: int, size: int) -> bytes:
    return (
        "<?xml version='1.0' encoding='UTF-8'?>\n"
        '<feed xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/" xmlns:arxiv="http://arxiv.org/schemas/atom" '
        'xmlns="http://www.w3.org/2005/Atom"><id>https://arxiv.org/api/stub</id><title>arXiv Query</title>'
        f"<updated>{dt.datetime.now(dt.timezone.utc):%Y-%m-%dT%H:%M:%SZ}</updated>"
        f"<opensearch:itemsPerPage>{size}</opensearch:itemsPerPage>"
        f"<opensearch:totalResults>{total}</opensearch:totalResults>"
        f"<opensearch:startIndex>{start}</opensearch:startIndex>"
        + "".join(_atom_entry(p) for p in papers)
        + "</feed>"
    ).encode("utf-8")


def _atom_error(message: str) -> bytes:
    return (
        "<?xml version='1.0' encoding='UTF-8'?>\n"
        '<feed xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/" xmlns="http://www.w3.org/2005/Atom">'
        "<id>https://arxiv.org/</id><title>arXiv Search Results</title>"
        "<opensearch:totalResults>1</opensearch:totalResults>"
        "<entry><id>https://arxiv.org/api/errors#stub</id><title>Error</title>"
        f"<summary>{escape(message)}</summary><author><name>arXiv api core</name></author></entry></feed>"
    ).encode("utf-8")


def _oai_error(code: str, message: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<OAI-PMH xmlns="http://www.openarchives.org/OAI/2.0/">'
        f'<responseDate>2026-01-01T00:00:00Z</responseDate><request>http://127.0.0.1/oai</request>'
        f'<error code="{code}">{escape(message)}</error></OAI-PMH>'
    ).encode("utf-8")


def _oai_header(paper: dict, deleted: bool = False) -> str:
    status = ' status="deleted"' if deleted else ""
    sets = "".join(f"<setSpec>{c.split('.')[0]}</setSpec>" for c in dict.fromkeys(paper["categories"].split()))
    return (f"<header{status}><identifier>oai:arXiv.org:{paper['id']}</identifier>"
            f"<datestamp>{paper['update_date']}</datestamp>{sets}</header>")


def _oai_deleted(paper: dict) -> str:
    return f"<record>{_oai_header(paper, deleted=True)}</record>"


def _oai_record(paper: dict, prefix: str) -> str:
    optional = "".join(
        f"<{tag}>{escape(paper[tag])}</{tag}>" for tag in ("comments", "journal-ref", "doi", "license") if paper.get(tag)
    )
    common = f"<title>{escape(paper['title'])}</title><categories>{paper['categories']}</categories>{optional}" \
             f"<abstract>{escape(paper['abstract'])}</abstract>"
    if prefix == "arXivRaw":
        versions = "".join(
            f'<version version="{v["version"]}"><date>{v["created"]}</date><size>100kb</size></version>'
            for v in paper["versions"]
        )
        metadata = (f'<arXivRaw xmlns="http://arxiv.org/OAI/arXivRaw/"><id>{paper["id"]}</id>'
                    f"<submitter>{escape(paper['submitter'])}</submitter>{versions}"
                    f"<authors>{escape(paper['authors'])}</authors>{common}</arXivRaw>")
    else:
        created = dt.datetime.strptime(paper["versions"][0]["created"], _RFC2822).date().isoformat()
        authors = "".join(
            f"<author><keyname>{escape(last)}</keyname><forenames>{escape(first)}</forenames></author>"
            for last, first, _ in paper["authors_parsed"]
        )
        metadata = (f'<arXiv xmlns="http://arxiv.org/OAI/arXiv/"><id>{paper["id"]}</id><created>{created}</created>'
                    f"<updated>{paper['update_date']}</updated><authors>{authors}</authors>{common}</arXiv>")
    return f"<record>{_oai_header(paper)}<metadata>{metadata}</metadata></record>"


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "arxiv-stub/1.0"

    def do_GET(self) -> None:
        """Record the request, then answer it."""
        app: ArxivServer = self.server.app
        url = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
        with app._lock:
            number = len(app.requests)
            app.requests.append({"path": url.path, "query": query, "headers": {k.lower(): v for k, v in self.headers.items()},
                                 "at": time.monotonic()})
        answer = app._answer(url.path, query, number)
        self.send_response(answer.status)
        self.send_header("Content-Length", str(len(answer.body)))
        for name, value in answer.headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(answer.body)

    def log_message(self, format, *args) -> None:
        """Silence the per-request log."""


def main(argv: list[str] | None = None) -> None:
    """Serve generated papers until interrupted (``--papers``, ``--seed``, ``--port``, ``--oai-page-size``)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--papers", type=int, default=500)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--port", type=int, default=8766)
    parser.add_argument("--oai-page-size", type=int, default=100)
    args = parser.parse_args(argv)
    with ArxivServer(generate_arxiv_papers(args.papers, seed=args.seed), oai_page_size=args.oai_page_size, port=args.port) as server:
        print(server.base_url, flush=True)
        print(f"serving {args.papers} papers: {server.api_url} and {server.oai_url}; Ctrl-C to stop", file=sys.stderr)
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
