"""The report page: tables as HTML, charts as JSON specs that the inline report.js draws as SVG.

The page is one file with its CSS, script and data inline: it opens without network.
"""

from __future__ import annotations

import json
from html import escape
from importlib import resources

_HERE = resources.files(__package__)  # a folder, or a folder in the zip that spark-submit ships
FUNNEL_STEPS = (("records", "input records"), ("raw", "docs_raw"), ("kept", "annotate keep"),
                ("curated", "docs_curated"), ("tokenized", "docs_tokenized"))


def _records(counts: dict[str, int]) -> int:
    return counts.get("raw", 0) + counts.get("quarantined", 0) + counts.get("skipped", 0)


def chart_specs(data: dict) -> list[dict]:
    funnel = data["funnel"]
    sources = list(funnel)
    specs = [
        {"id": "funnel-docs", "orient": "h", "stacked": False, "categories": sources,
         "series": [{"name": label, "values": [_records(funnel[s]) if key == "records" else funnel[s].get(key, 0)
                                               for s in sources]} for key, label in FUNNEL_STEPS]},
        {"id": "funnel-tokens", "orient": "h", "stacked": False, "categories": sources,
         "series": [{"name": "tokens in docs_tokenized", "values": [funnel[s].get("tokens", 0) for s in sources]}]},
    ]
    drops = data["drops"]
    stages = sorted({d["stage"] for d in drops})
    specs.append({"id": "drop-reasons", "orient": "h", "stacked": True,
                  "categories": [f"{d['stage']} {d['reason']}" for d in drops],
                  "series": [{"name": st, "values": [d["documents"] if d["stage"] == st else 0 for d in drops]}
                             for st in stages]})
    for kind, langs in data["languages"].items():
        specs.append({"id": f"lang-{kind}", "orient": "h", "stacked": True, "categories": [x["lang"] for x in langs],
                      "series": [{"name": "kept", "values": [x["kept"] for x in langs]},
                                 {"name": "dropped", "values": [x["dropped"] for x in langs]}]})
    for h in data["signals"]:
        specs.append({"id": f"signal-{h['kind']}-{h['signal']}", "orient": "v", "stacked": True,
                      "categories": [f"bin {i}" for i in range(len(h["kept"]))],
                      "series": [{"name": "kept", "values": h["kept"]}, {"name": "dropped", "values": h["dropped"]}],
                      "axis": {"lo": h["lo"], "hi": h["hi"]},
                      "thresholds": [{"at": v, "label": f"{side} {v:g}"} for side, v in h["thresholds"].items()]})
    clusters = data["clusters"]
    sizes = sorted({c["size"] for c in clusters})
    specs.append({"id": "cluster-sizes", "orient": "v", "stacked": True, "categories": [str(s) for s in sizes],
                  "series": [{"name": kind, "values": [sum(c["clusters"] for c in clusters
                                                           if c["size"] == s and c["kind"] == kind) for s in sizes]}
                             for kind in sorted({c["kind"] for c in clusters})]})
    for i, st in enumerate(data["mixture"]):
        comps = st["components"]
        specs.append({"id": f"mixture-{i}", "orient": "h", "stacked": False, "format": "share",
                      "categories": [c["name"] for c in comps],
                      "series": [{"name": "target", "values": [c["target_share"] for c in comps]},
                                 {"name": "realized", "values": [c["realized_share"] for c in comps]}]})
    specs.append({"id": "timings", "orient": "h", "stacked": False, "format": "seconds",
                  "categories": [r["stage"] for r in data["timings"]],
                  "series": [{"name": "seconds", "values": [r["seconds"] for r in data["timings"]]}]})
    return [s for s in specs if s["categories"]]


def _figure(chart_id: str, title: str, caption: str = "") -> str:
    return (f'<figure class="chart" data-chart="{escape(chart_id)}"><h3>{escape(title)}</h3>'
            f"<figcaption>{escape(caption)}</figcaption></figure>")


def _table(header: list[str], rows: list[list]) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{escape(_cell(v))}</td>" for v in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _cell(v) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:,.1f}"
    if isinstance(v, int):
        return f"{v:,}"
    return str(v)


def _sections(data: dict, drawn: set[str]) -> str:
    def fig(chart_id: str, title: str, caption: str = "") -> str:
        return _figure(chart_id, title, caption) if chart_id in drawn else f'<p class="empty">{escape(title)}: no data</p>'

    funnel = data["funnel"]
    out = ["<section><h2>Funnel per source</h2>",
           fig("funnel-docs", "documents through each stage",
               "input records = docs_raw + refused at ingest; annotate keep = documents passing every rule; "
               "docs_curated = kept and not a removed duplicate"),
           fig("funnel-tokens", "tokens per source (cl100k_base)"),
           _table(["source", "quarantined", "skipped", "docs_raw", "raw bytes", "annotate keep", "kept bytes",
                   "docs_curated", "curated bytes", "docs_tokenized", "tokens"],
                  [[s, c.get("quarantined", 0), c.get("skipped", 0), c.get("raw", 0), c.get("raw_bytes", 0),
                    c.get("kept", 0), c.get("kept_bytes", 0), c.get("curated", 0), c.get("curated_bytes", 0),
                    c.get("tokenized", 0), c.get("tokens", 0)] for s, c in funnel.items()]),
           "</section>",
           "<section><h2>Drop reasons</h2>",
           fig("drop-reasons", "documents per stage and reason",
               "a document dropped by annotate counts once for every rule it fails"),
           "</section><section><h2>Languages</h2><div class='grid'>"]
    out += [fig(f"lang-{kind}", f"{kind} documents per {'language' if kind == 'text' else 'code language'}")
            for kind in data["languages"]]
    out.append("</div></section><section><h2>Quality signals</h2>"
               "<p>Red lines: the base thresholds of the document's kind from the annotate rules (per-language "
               "overrides not drawn). Bins span the 1st–99th percentile; values outside fall in the edge bins."
               "</p><div class='grid'>")
    for h in data["signals"]:
        off = [f"{side} {v:g}" for side, v in h["thresholds"].items() if not h["lo"] <= v <= h["hi"]]
        caption = (f"{h['documents']:,} documents, values {h['min']:g} … {h['max']:g}"
                   + (f"; off the chart: {', '.join(off)}" if off else ""))
        out.append(fig(f"signal-{h['kind']}-{h['signal']}", f"{h['kind']}: {h['signal']}", caption))
    out.append("</div></section><section><h2>Duplicate clusters</h2>")
    out.append(fig("cluster-sizes", "clusters per size (documents in the cluster)",
                   "exact: every member has the kept document's normalized text; near: MinHash-similar"))
    out.append("</section><section><h2>Line and paragraph dedup</h2>")
    if data["line_dedup"]:
        out.append("<p>Lines and paragraphs found in at least dedup.line_dedup.min_docs documents of their source, "
                   "removed from the documents that reach docs_curated; the rules then re-decide the changed "
                   "documents (line_dedup_docs).</p>")
        out.append(_table(["source", "documents changed", "bytes before", "bytes removed", "removed share",
                           "dropped after"],
                          [[r["source"], r["changed"], r["bytes_before"], r["removed_bytes"],
                            f"{r['removed_bytes'] / r['bytes_before']:.2%}" if r["bytes_before"] else "-",
                            r["dropped"]] for r in data["line_dedup"]]))
    else:
        out.append('<p class="empty">line dedup is off or changed no document</p>')
    out.append("</section><section><h2>Mixture: target vs realized share</h2>")
    for i, st in enumerate(data["mixture"]):
        out.append(fig(f"mixture-{i}", f"{st['mixture']} / {st['version']} / {st['stage']}",
                       f"{st['tokens']:,} of {st['budget_tokens']:,} budget tokens in {st['samples']:,} samples "
                       f"of {st['seq_len']}; {st['path']}"))
        out.append(_table(["component", "target", "realized", "tokens", "documents", "epochs"],
                          [[c["name"], f"{c['target_share']:.2%}", f"{c['realized_share']:.2%}", c["tokens"],
                            c["documents"], c["epochs"]] for c in st["components"]]))
    if not data["mixture"]:
        out.append('<p class="empty">no shard version under this root</p>')
    out.append("</section><section><h2>Stage timings and throughput</h2>")
    out.append(fig("timings", "seconds per stage"))
    out.append(_table(["stage", "status", "Delta engine", "started (UTC)", "seconds", "rows in", "rows out",
                       "rows in / s", "tokens"],
                      [[r["stage"], r["status"], r["engine"], r["started_at"], r["seconds"], r["rows_in"], r["rows_out"],
                        r["rows_per_s"], r["tokens"]] for r in data["timings"]]))
    out.append("</section><section><h2>Settings</h2>"
               "<p>The config of the command that wrote this page (secret-looking Spark settings shown as ***)."
               "</p><details><summary>all settings</summary>")
    out.append(_table(["setting", "value"], [[k, v] for k, v in sorted(data["settings"].items())]))
    out.append("</details></section>")
    return "\n".join(out)


def render(data: dict) -> str:
    """The whole page for the aggregated `data` of one run."""
    specs = chart_specs(data)
    run = data["run"]
    # No "<" inside the script element: a label cannot end it or open a comment there.
    payload = json.dumps({"charts": specs}, allow_nan=False).replace("<", "\\u003c")
    versions = ", ".join(f"{k} v{v}" for k, v in sorted(run["versions"].items()))
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>curate run {escape(run['run_id'])}</title>
<style>{(_HERE / 'report.css').read_text(encoding='utf-8')}</style>
</head><body>
<header><h1>curate run {escape(run['run_id'])}</h1>
<p>root <code>{escape(run['root'])}</code> · config hash <code>{escape(run['config_hash'])}</code> ·
stages {escape(run['stages'])} · generated {escape(run['generated_at'])}</p>
<p>tables as of the end of the run: {escape(versions)}</p></header>
{_sections(data, {s['id'] for s in specs})}
<script type="application/json" id="report-data">{payload}</script>
<script>{(_HERE / 'report.js').read_text(encoding='utf-8')}</script>
</body></html>
"""
