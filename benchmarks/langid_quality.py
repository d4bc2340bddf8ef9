"""Language ID on the labelled paragraph set: lid.176 alone vs lid.176 + lingua, per language.

The set (tests/data/langid/labelled.jsonl, built by scripts/build_langid_set.py from Debian's
translated man pages; labels are the pages' locale directories) has two splits that share no page.
`below_score`, lid.176's score under which lingua is asked, is chosen on the calibration split: the
grid value with the best lowest per-language accuracy, then the best overall accuracy, then the
fewest paragraphs sent to lingua. The evaluation split is only scored, at the calibrated value and at
the configured default (annotate.langid.ensemble.below_score). Times are CPU seconds of this process.

    python benchmarks/langid_quality.py
Writes benchmarks/results/langid_quality.json.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from pathlib import Path

from bench_results import write_result  # benchmarks/ is on sys.path when run as a script
from curate.quality.config import EnsembleConfig
from curate.quality.langid import LanguageIdentifier
from curate.quality.lid_ensemble import LanguageEnsemble, lingua_version

REPO = Path(__file__).resolve().parents[1]
LABELLED = REPO / "tests" / "data" / "langid" / "labelled.jsonl"
RESULTS = Path(__file__).parent / "results" / "langid_quality.json"
GRID = (0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95, 0.98, 0.99, 1.0)


def score(rows: list[dict], predict) -> dict:
    """Accuracy overall and per language, the lowest per-language one, and CPU seconds."""
    total, correct = Counter(), Counter()
    start = time.process_time()
    for row in rows:
        total[row["lang"]] += 1
        correct[row["lang"]] += predict(row["text"]) == row["lang"]
    per_lang = {lang: round(correct[lang] / total[lang], 4) for lang in sorted(total)}
    return {"paragraphs": sum(total.values()), "overall": round(sum(correct.values()) / sum(total.values()), 4),
            "min_lang": min(per_lang.values()), "per_lang": per_lang, "cpu_s": round(time.process_time() - start, 2)}


def ensemble_score(rows: list[dict], first: LanguageIdentifier, cfg: EnsembleConfig, below_score: float) -> dict:
    ens = LanguageEnsemble(first, below_score=below_score, top_k=cfg.top_k, low_accuracy=cfg.low_accuracy,
                           max_chars=cfg.max_chars)
    asked = Counter()

    def predict(text: str) -> str | None:
        pred = ens.predict(text)
        asked["lingua"] += pred.lingua is not None
        return pred.lang

    result = score(rows, predict)
    return {"below_score": below_score, "asked_lingua": asked["lingua"], **result}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--labelled", default=str(LABELLED))
    ap.add_argument("--out", default=str(RESULTS))
    args = ap.parse_args(argv)
    rows = [json.loads(line) for line in Path(args.labelled).read_text(encoding="utf-8").splitlines()]
    calibration = [r for r in rows if r["split"] == "calibration"]
    evaluation = [r for r in rows if r["split"] == "evaluation"]
    cfg = EnsembleConfig()
    first = LanguageIdentifier()
    grid = [ensemble_score(calibration, first, cfg, th) for th in GRID]
    best = max(grid, key=lambda g: (g["min_lang"], g["overall"], -g["asked_lingua"]))
    evaluated = {"lid176": score(evaluation, lambda text: first.predict(text).lang),
                 "ensemble_calibrated": ensemble_score(evaluation, first, cfg, best["below_score"])}
    if cfg.below_score != best["below_score"]:
        evaluated["ensemble_default"] = ensemble_score(evaluation, first, cfg, cfg.below_score)
    write_result({
        "set": {"path": str(Path(args.labelled).relative_to(REPO)) if Path(args.labelled).is_relative_to(REPO)
                else args.labelled,
                "languages": len({r["lang"] for r in rows}), "calibration": len(calibration),
                "evaluation": len(evaluation)},
        "lingua": lingua_version(),
        "ensemble": cfg.model_dump(),
        "calibration": {"lid176": score(calibration, lambda text: first.predict(text).lang),
                        "grid": [{k: v for k, v in g.items() if k != "per_lang"} for g in grid],
                        "chosen_below_score": best["below_score"]},
        "evaluation": evaluated,
    }, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
