"""The explorer end to end: a real uvicorn server on 127.0.0.1 and headless Chromium (Debian's) driven
by Playwright, on a warehouse of generated lists; the page must show what the CLI prints."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from papertrends.cli.main import main
from papertrends.explorer.app import create_app

from tests.test_api import home  # noqa: F401 - the same generated warehouse (a module-scoped fixture)

REPO = Path(__file__).resolve().parents[1]
CHROMIUM = os.environ.get("PAPERTRENDS_CHROMIUM", "/usr/bin/chromium")
SCREENSHOT = REPO / "docs" / "explorer.png"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def server(home):  # noqa: F811
    """The explorer app served by uvicorn on 127.0.0.1 in a thread, for this module."""
    import uvicorn

    root, *_ = home
    port = free_port()
    config = uvicorn.Config(create_app(root), host="127.0.0.1", port=port, log_level="warning")
    running = uvicorn.Server(config)
    thread = threading.Thread(target=running.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not running.started:
        assert time.monotonic() < deadline, "the explorer did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    running.should_exit = True
    thread.join(10)


@pytest.fixture(scope="module")
def browser():
    """Headless Debian chromium under Playwright; skipped with the reason where it is absent."""
    if not Path(CHROMIUM).is_file():
        pytest.skip(f"no chromium at {CHROMIUM}: run `make browser` (apt-get install chromium) for the browser tests")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("playwright is not installed: `make install` installs the test extra")
    with sync_playwright() as driver:
        chromium = driver.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, server):
    """A page whose every request is recorded; anything not for 127.0.0.1 is aborted (and recorded)."""
    context = browser.new_context(viewport={"width": 1360, "height": 1000})
    page = context.new_page()
    page.requests = []

    def route(request_route):
        page.requests.append(request_route.request.url)
        host = urlsplit(request_route.request.url).hostname
        if request_route.request.url.startswith(("data:", "blob:", "file:")) or host == "127.0.0.1":
            request_route.continue_()
        else:
            request_route.abort()

    context.route("**/*", route)
    yield page
    context.close()


def wait_ready(page):
    page.wait_for_function("document.body.dataset.state === 'ready' || document.body.dataset.state === 'error'",
                           timeout=60_000)
    assert page.evaluate("document.body.dataset.state") == "ready", page.inner_text("#error")


def cli_json(capsys, root, *argv):
    code = main(["--home", str(root), *argv, "--format", "json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    return json.loads(out)


def chart_points(page) -> list[dict]:
    """The chart's points as (term, period, matches, total), in the CLI's order (period, then term)."""
    points = page.eval_on_selector_all("circle.point", """nodes => nodes.map(n => ({
        term: n.dataset.term, period: n.dataset.period, matches: +n.dataset.matches, total: +n.dataset.total}))""")
    order = {t: i for i, t in enumerate(dict.fromkeys(p["term"] for p in points))}
    return sorted(points, key=lambda p: (p["period"], order[p["term"]]))


def test_typed_terms_draw_the_cli_trend_and_a_point_lists_the_cli_papers(page, server, home, capsys, tmp_path):  # noqa: F811
    root, *_ = home
    page.goto(server + "/")
    wait_ready(page)
    page.fill("#terms", "scaling, tractable|intractable")
    page.click("#go")
    wait_ready(page)
    assert "/?terms=scaling,tractable|intractable" in page.url

    expected = cli_json(capsys, root, "trend", "scaling", "tractable|intractable")
    shown = chart_points(page)
    assert shown == [{k: r[k] for k in ("term", "period", "matches", "total")} for r in expected if r["total"]]
    bars = page.eval_on_selector_all("rect.bar", "n => n.map(b => [b.dataset.period, +b.dataset.total])")
    assert bars == [[r["period"], r["total"]] for r in expected if r["term"] == "scaling"]
    # Bands, the verdict in the legend and the change point drawn on the chart.
    assert page.locator("g.series polygon.band").count() == 2
    verdicts = {v["term"]: v for v in cli_json(capsys, root, "trend", "scaling", "tractable|intractable", "--verdict")}
    legend = page.eval_on_selector_all(".legend-item", "n => n.map(i => [i.dataset.term, i.dataset.verdict])")
    assert legend == [[t, verdicts[t]["verdict"]] for t in ("scaling", "tractable|intractable")]
    if verdicts["scaling"]["since"]:
        assert page.locator(f"line.change[data-term='scaling'][data-since='{verdicts['scaling']['since']}']").count() == 1
    # Every point names its term in its hover text.
    titles = page.eval_on_selector_all("circle.point title", "n => n.map(t => t.textContent)")
    assert titles and all(t.startswith(("scaling — ", "tractable|intractable — ")) for t in titles)

    page.click("circle.point[data-term='scaling'][data-period='2024-07']")
    wait_ready(page)
    listed = page.eval_on_selector_all("#papers tbody tr", """rows => rows.map(r => ({paper_id: r.dataset.paperId,
        title: r.querySelector('a').textContent, link: r.querySelector('a').href,
        list_date: r.cells[1].textContent, upvotes: r.cells[2].textContent}))""")
    papers = cli_json(capsys, root, "papers", "--term", "scaling", "--period", "2024-07")
    assert listed == [{"paper_id": p["paper_id"], "title": p["title"], "link": p["link"], "list_date": p["list_date"],
                       "upvotes": "" if p["upvotes"] is None else str(p["upvotes"])} for p in papers]
    assert len(listed) > 0

    # The URL holds the whole state: a reload shows the same chart and the same papers.
    url = page.url
    assert "point=scaling@2024-07" in url
    page.reload()
    wait_ready(page)
    assert page.url == url and chart_points(page) == shown
    assert page.eval_on_selector_all("#papers tbody tr", "r => r.map(x => x.dataset.paperId)") == [p["paper_id"] for p in papers]

    # The first screen (chart, legend, panels, the first papers); README's picture with
    # PAPERTRENDS_UPDATE_SCREENSHOT=1, so ordinary runs leave the checkout untouched.
    shot = SCREENSHOT if os.environ.get("PAPERTRENDS_UPDATE_SCREENSHOT") else tmp_path / "explorer.png"
    page.screenshot(path=str(shot))
    assert shot.stat().st_size > 20_000
    outside = [u for u in page.requests if urlsplit(u).hostname not in (None, "127.0.0.1")]
    assert not outside, outside


def test_a_shared_url_opens_its_view_with_filters_rising_and_search(page, server, home, capsys):  # noqa: F811
    root, *_ = home
    page.goto(server + "/?terms=scaling&by=week&min_upvotes=5&q=scaling%20laws")
    wait_ready(page)
    assert page.input_value("#terms") == "scaling" and page.input_value("#by") == "week"
    assert page.input_value("#min_upvotes") == "5"
    expected = cli_json(capsys, root, "trend", "scaling", "--by", "week", "--min-upvotes", "5")
    assert chart_points(page) == [{k: r[k] for k in ("term", "period", "matches", "total")} for r in expected if r["total"]]
    hits = page.eval_on_selector_all("#hits li", "n => n.map(li => li.dataset.paperId)")
    assert hits == [h["paper_id"] for h in cli_json(capsys, root, "search", "scaling laws", "--min-upvotes", "5")]
    rising = page.eval_on_selector_all("#rising li", "n => n.map(li => li.dataset.term)")
    assert rising == [r["term"] for r in cli_json(capsys, root, "rising", "--by", "week", "--min-upvotes", "5",
                                                   "--limit", "15")]
    # A rising term joins the chart with one click.
    page.click(f"#rising li[data-term='{rising[0]}'] a")
    wait_ready(page)
    assert {p["term"] for p in chart_points(page)} == {"scaling", rising[0]}
    outside = [u for u in page.requests if urlsplit(u).hostname not in (None, "127.0.0.1")]
    assert not outside, outside


def test_bad_input_is_a_one_line_message_on_the_page(page, server):
    page.goto(server + "/?terms=scaling&since=2024-13-01")
    page.wait_for_function("document.body.dataset.state === 'error'", timeout=60_000)
    message = page.inner_text("#error")
    assert message and "\n" not in message.strip() and "Traceback" not in message


def test_the_explorer_neither_imports_prefect_nor_writes(home):  # noqa: F811
    root, *_ = home
    before = {p: (p.stat().st_mtime_ns, p.stat().st_size) for p in root.rglob("*") if p.is_file()}
    probe = (
        "import sys; from starlette.testclient import TestClient; from papertrends.explorer.app import create_app; "
        "c = TestClient(create_app(sys.argv[1])); "
        "codes = [c.get(u).status_code for u in ('/', '/static/app.js', '/api/trend?terms=scaling', "
        "'/api/papers?term=scaling&period=2024-03', '/api/rising', '/api/search?q=scaling', '/api/momentum', "
        "'/api/curve?paper_id=x', '/api/trend?terms=a&since=May')]; "
        "print(codes, 'prefect' in sys.modules)"
    )
    result = subprocess.run([sys.executable, "-c", probe, str(root)], capture_output=True, text=True, cwd=REPO,
                            env={**os.environ}, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "[200, 200, 200, 200, 200, 200, 200, 200, 400] False"
    after = {p: (p.stat().st_mtime_ns, p.stat().st_size) for p in root.rglob("*") if p.is_file()}
    assert after == before


def test_chromium_is_where_the_setup_puts_it():
    """The setup (`make browser`) installs Debian's chromium; say so plainly where it did not run."""
    if shutil.which("apt-get") is None and not Path(CHROMIUM).is_file():
        pytest.skip("no apt-get and no chromium: browser tests cannot run on this machine")
    if not Path(CHROMIUM).is_file():
        pytest.skip(f"chromium not installed at {CHROMIUM}: run `make browser`")
    version = subprocess.run([CHROMIUM, "--version"], capture_output=True, text=True, timeout=60)
    assert "Chromium" in version.stdout


def test_the_chart_html_file_draws_offline_in_the_browser(page, home, tmp_path, capsys):  # noqa: F811
    """`trend --chart FILE.html` is the explorer's chart, drawn from the file alone."""
    root, *_ = home
    path = tmp_path / "chart.html"
    assert main(["--home", str(root), "trend", "scaling", "tractable", "--chart", str(path)]) == 0
    capsys.readouterr()
    page.goto(path.as_uri())
    page.wait_for_selector("circle.point")
    assert page.title().startswith('Share of papers matching "scaling", "tractable"')
    expected = cli_json(capsys, root, "trend", "scaling", "tractable")
    assert chart_points(page) == [{k: r[k] for k in ("term", "period", "matches", "total")} for r in expected if r["total"]]
    assert page.eval_on_selector_all(".legend-item", "n => n.map(i => i.dataset.verdict)") == ["rising", "flat"]
    assert not [u for u in page.requests if not u.startswith("file:")]


def test_explore_command_serves_on_localhost(home):  # noqa: F811
    import urllib.request

    root, *_ = home
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "papertrends.cli.main", "--home", str(root), "explore", "--port",
                                str(port)], cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/trend?terms=scaling", timeout=5) as answer:
                    body = json.loads(answer.read())
                break
            except OSError:
                assert process.poll() is None and time.monotonic() < deadline, process.stderr.read() if process.poll() else "no answer"
                time.sleep(0.3)
        assert body["series"][0]["term"] == "scaling" and body["ms"] >= 0
    finally:
        process.terminate()
        process.wait(20)


def test_cached_answers_follow_a_small_load_that_stays_in_the_write_ahead_log(tmp_path):
    """A load under SMALL_LOAD_ROWS leaves the warehouse file untouched (its rows wait in the .wal):
    the verdict and rising answers cached per warehouse state must not outlive it."""
    import datetime as dt

    import papertrends
    from starlette.testclient import TestClient

    from papertrends.warehouse import connection, loads
    from tests.test_analytics import NO_QUARANTINE, _rising_rows, listing_rows

    path = tmp_path / "warehouse.duckdb"
    con = connection.open_writer(path)
    loads.load(con, listing_rows(_rising_rows(0)), NO_QUARANTINE, 1)
    con.execute("checkpoint")
    con.close()
    app = create_app(tmp_path)
    client = TestClient(app)
    url = "/api/verdict?terms=diffusion"
    first = client.get(url).json()
    assert client.get(url).json().get("cached")
    rising = client.get("/api/rising").json()["rising"]
    app.state.papertrends.close()  # as the 2 s idle close would, so the writer can open the file

    stamp = path.stat().st_mtime_ns
    con = connection.open_writer(path)
    more = [(f"2509.{j:05d}", dt.date(2025, 9, 1 + j), "Diffusion policies", "diffusion policies again", 1) for j in range(25)]
    loads.load(con, listing_rows(more), NO_QUARANTINE, 2)
    con.close()
    assert path.stat().st_mtime_ns == stamp  # the small load is in the write-ahead log only

    second = client.get(url).json()
    expected = papertrends.connect(tmp_path).verdict("diffusion")
    app.state.papertrends.close()
    assert not second.get("cached") and second["verdicts"][0]["sentence"] == expected.sentence()
    assert second["verdicts"][0]["sentence"] != first["verdicts"][0]["sentence"]
    fresh = client.get("/api/rising").json()
    app.state.papertrends.close()
    assert not fresh.get("cached") and fresh["rising"] != rising
    assert fresh["rising"] == papertrends.connect(tmp_path).rising(limit=15).to_dicts()
