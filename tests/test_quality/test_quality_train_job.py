import json

from curate.jobs.quality_train import main, read_examples
from curate.quality.classifier import QualityScorer


def test_cli_trains_from_files_and_reports_precision_recall(tmp_path, capsys, gpl3, changelog):
    pos = tmp_path / "pos.jsonl"
    neg = tmp_path / "neg.txt"
    paragraphs = [p.replace("\n", " ") for p in gpl3.split("\n\n") if len(p) > 200]
    pos.write_text("".join(json.dumps({"text": p}) + "\n" for p in paragraphs))
    entries = [e.replace("\n", " ") for e in changelog.split("\n\n") if e.strip()]
    neg.write_text("\n".join(entries))
    assert read_examples(str(pos), text_field="text") == paragraphs
    out = tmp_path / "m" / "q.bin"
    assert main(["--positive", str(pos), "--negative", str(neg), "--out", str(out), "--threads", "1",
                 "--holdout", "0.2", "--epoch", "25"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["n_holdout"] > 0 and report["precision"] > 0.8 and report["recall"] > 0.8
    scorer = QualityScorer(model_path=str(out))
    assert scorer.score(paragraphs[3]) > scorer.score(entries[3])
