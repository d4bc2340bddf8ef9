"""The report page rendered by headless Chromium: every chart drew its SVG, offline."""

from __future__ import annotations

import re
from collections import defaultdict
from html.parser import HTMLParser

from test_report.chromium import dump_dom, screenshot

from curate.cli import main
from curate.quality.rules import RulesConfig


class Charts(HTMLParser):
    """Per figure[data-chart]: how many bars (rect.bar) and threshold lines (line.threshold) it holds."""

    def __init__(self):
        super().__init__()
        self.current = None
        self.figures: dict[str, dict[str, int]] = defaultdict(lambda: {"svg": 0, "bar": 0, "threshold": 0})
        self.body: dict[str, str] = {}
        self.errors = False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "body":
            self.body = a
        if a.get("id") == "render-errors":
            self.errors = True
        if tag == "figure" and "data-chart" in a:
            self.current = a["data-chart"]
            self.figures[self.current]
        elif self.current and tag == "svg":
            self.figures[self.current]["svg"] += 1
        elif self.current and tag in ("rect", "line") and a.get("class") in ("bar", "threshold"):
            self.figures[self.current][a["class"]] += 1

    def handle_endtag(self, tag):
        if tag == "figure":
            self.current = None


def test_report_renders_every_chart_offline(sample_run, tmp_path, capsys):
    page = tmp_path / "report.html"
    assert main(["report", "--config", str(sample_run["config"]), "--out", str(page)]) == 0
    assert capsys.readouterr().out.strip().endswith(str(page))
    html = page.read_text()
    assert sample_run["run_id"] in html
    # Self-contained: nothing is fetched (the SVG namespace string is an identifier, not a fetch).
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html)
    assert "<link" not in html and "@import" not in html

    parser = Charts()
    parser.feed(dump_dom(page, profile=tmp_path / "profile"))
    figures = parser.figures
    assert not parser.errors
    assert int(parser.body["data-charts-drawn"]) == len(figures)
    assert {"funnel-docs", "funnel-tokens", "drop-reasons", "lang-text", "lang-code", "cluster-sizes",
            "mixture-0", "mixture-1", "timings"} <= set(figures)
    for chart, counts in figures.items():
        assert counts["svg"] == 1 and counts["bar"] > 0, (chart, counts)
    # One histogram per signal that a switched-on base rule of its kind reads.
    rules = RulesConfig()
    expected = {f"signal-{kind}-{name[4:]}" for kind, base in (("text", rules.text), ("code", rules.code))
                for name, value in base.items() if value is not None}
    signal_charts = {c for c in figures if c.startswith("signal-")}
    assert signal_charts and signal_charts <= expected
    assert "signal-text-gopher_alpha_word_frac" in signal_charts
    # A threshold that drops documents lies among the values, so its line is drawn.
    for chart in ("signal-text-gopher_alpha_word_frac", "signal-text-c4_sentences",
                  "signal-text-fineweb_dup_line_char_ratio"):
        assert figures[chart]["threshold"] >= 1, chart
    # funnel: one bar per source and step (an empty one is drawn 0 wide); timings: one per stage
    store = sample_run["store"]
    sources = {r[0] for r in store.read("docs_raw").select("source").union(store.read("quarantine").select("source"))
               .distinct().collect()}
    assert figures["funnel-docs"]["bar"] == 5 * len(sources)
    assert figures["timings"]["bar"] == 5

    shot = tmp_path / "report.png"
    screenshot(page, shot, profile=tmp_path / "profile")
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 20_000
