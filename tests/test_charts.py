"""`trend --chart`: the annotations an honest chart needs exist (not pixels), and reruns give the same bytes."""

from __future__ import annotations

import json
import re

from papertrends.cli.main import main

from tests.test_api import home  # noqa: F401 - the generated warehouse ("scaling" rising, "tractable" flat)


def chart(root, tmp_path, capsys, name, *extra):
    path = tmp_path / name
    code = main(["--home", str(root), "trend", "scaling", "tractable", *extra, "--chart", str(path)])
    _, err = capsys.readouterr()
    assert code == 0, err
    return path


def verdicts(root, capsys):
    main(["--home", str(root), "trend", "scaling", "tractable", "--verdict", "--format", "json"])
    return {v["term"]: v for v in json.loads(capsys.readouterr().out)}


def test_svg_keeps_text_as_text_with_verdicts_change_point_bands_and_small_samples(home, tmp_path, capsys):  # noqa: F811
    root, *_ = home
    svg = chart(root, tmp_path, capsys, "a.svg").read_text()
    texts = " ".join(re.sub(r"<[^>]+>", "", t) for t in re.findall(r"<text\b.*?</text>", svg, re.S))
    found = verdicts(root, capsys)
    assert "scaling: rising" in texts and "tractable: flat" in texts
    assert "95% interval" in texts and "fewer than 100 papers" in texts
    assert 'id="band-0"' in svg and 'id="band-1"' in svg and 'id="line-0"' in svg
    if found["scaling"]["since"]:
        assert f"scaling: changes since {found['scaling']['since']}" in texts and 'id="change-0"' in svg
    # A week has few papers: small samples are drawn hollow.
    weekly = chart(root, tmp_path, capsys, "w.svg", "--by", "week").read_text()
    assert 'id="small-0"' in weekly


def test_png_and_svg_reruns_are_byte_identical(home, tmp_path, capsys):  # noqa: F811
    root, *_ = home
    for suffix in (".png", ".svg"):
        first = chart(root, tmp_path, capsys, "one" + suffix, "--smooth", "3").read_bytes()
        second = chart(root, tmp_path, capsys, "two" + suffix, "--smooth", "3").read_bytes()
        assert first == second and len(first) > 5000


def test_html_has_a_title_the_data_and_no_inlined_plotly(home, tmp_path, capsys):  # noqa: F811
    root, *_ = home
    page = chart(root, tmp_path, capsys, "c.html").read_text()
    assert len(page.encode()) < 200_000, "the chart page should not carry a 4.8 MB library"
    assert "<title>Share of papers matching &quot;scaling&quot;, &quot;tractable&quot;, per month</title>" in page
    assert "plotly" not in page.lower() and "http://" not in page.replace("http://www.w3.org/2000/svg", "")
    assert "https://" not in page
    data = json.loads(re.search(r"const DATA = (.*?);\n", page).group(1))
    assert [s["term"] for s in data["series"]] == ["scaling", "tractable"]
    assert {v["term"]: v["verdict"] for v in data["verdicts"]} == {"scaling": "rising", "tractable": "flat"}
    # The hover text of every point names its term (built by the chart code from these fields).
    assert "${s.term} — ${q.period}" in page
