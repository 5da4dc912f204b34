"""docs/results.md and the model card from an evaluation report, with and without the never-seen row."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "train"))

import evaluate  # noqa: E402
import model_card  # noqa: E402
from results_page import render_page  # noqa: E402

from CrossMRLib.model.config import ModelConfig  # noqa: E402
from CrossMRLib.model.network import CrossMRNet  # noqa: E402
from CrossMRLib.model.weights import save_weights  # noqa: E402

ORGANS = ("1", "2", "3", "4")


def scores(values: tuple[float, float, float, float]) -> dict:
    out = {o: {"dice": v, "nsd": v - 0.1} for o, v in zip(ORGANS, values)}
    out["mean"] = {m: sum(out[o][m] for o in ORGANS) / 4 for m in ("dice", "nsd")}
    return out


def report(never_seen: dict | None = None, dense=(0.93, 0.93, 0.93, 0.93)) -> dict:
    """A JSON report as evaluate.py writes it: CHAOS rows with Grow from seeds, one generated row."""
    out = {"command": ".venv/bin/python train/evaluate.py", "weights": "Resources/Models/crossmr_model.pt",
           "sha256": "ab" * 32, "refine": True, "echoes_together": True,
           "chaos_dense": {"volumes": 5, "model": scores(dense), "growcut": scores((0.8, 0.8, 0.8, 0.8))},
           "chaos_sparse": {"volumes": 5, "model": scores((0.9, 0.9, 0.9, 0.9)),
                            "growcut": scores((0.7, 0.7, 0.7, 0.7))},
           "phantom_t2w": {"volumes": 5, "model": scores((0.95, 0.95, 0.95, 0.95))}}
    if never_seen is not None:
        out["never_seen"] = never_seen
    return out


MEASURED = {"weights": "Resources/Models/crossmr_never_seen.pt", "measured": True, "sha256": "cd" * 32,
            "command": "train/train.py --no-chaos",
            "chaos_dense": {"volumes": 5, "model": scores((0.81, 0.82, 0.83, 0.84))},
            "chaos_sparse": {"volumes": 5, "model": scores((0.71, 0.72, 0.73, 0.74))}}


def rows(page: str, start: str) -> list[str]:
    return [line for line in page.splitlines() if line.startswith(start)]


def test_never_seen_rows_sit_under_the_shipped_chaos_rows_with_their_means():
    lines = render_page(report(MEASURED), "CMD").splitlines()
    dense = lines.index(next(line for line in lines if line.startswith("| CHAOS T2-SPIR, dense strokes (5")))
    assert lines[dense].split("|")[2].strip() == "0.930"
    assert "never-seen" in lines[dense + 1] and lines[dense + 1].split("|")[2].strip() == "0.825"
    assert lines[dense + 1].split("|")[4:6] == [" 0.85, every organ 0.80 ", " no "]  # the never-seen target
    sparse = rows("\n".join(lines), "| CHAOS T2-SPIR, sparse strokes, never-seen")
    assert sparse[0].split("|")[2].strip() == "0.725" and sparse[0].split("|")[4:6] == [" 0.80 ", " no "]
    per_organ = rows("\n".join(lines), "| CHAOS T2-SPIR, dense strokes: never-seen")
    assert per_organ[0].split("|")[2].strip() == "0.810 / 0.710"  # liver DSC / NSD
    assert "not measured" not in "\n".join(lines) and "cdcdcdcd" in "\n".join(lines)


def test_never_seen_weights_of_an_earlier_recipe_are_said_to_measure_that_recipe():
    """The never-seen row stands for today's recipe only when the weights record today's source shares."""
    from CrossMRLib.model.sources import recipe_shares

    assert "earlier recipe" in render_page(report(MEASURED), "CMD")  # weights without recorded shares
    assert "earlier recipe" not in render_page(report({**MEASURED, "source_shares": recipe_shares()}), "CMD")


def test_absent_never_seen_row_says_not_measured_and_why_without_numbers():
    absent = {"weights": "Resources/Models/crossmr_never_seen.pt", "measured": False,
              "reason": "Resources/Models/crossmr_never_seen.pt does not exist"}
    for page in (render_page(report(absent), "TRAIN-CMD"), render_page(report(), "TRAIN-CMD")):
        never = [r for r in page.splitlines() if r.startswith("| CHAOS") and ", never-seen" in r]
        assert len(never) == 2 and all(r.split("|")[2].strip() == "not measured" for r in never)
        assert not rows(page, "| CHAOS T2-SPIR, dense strokes: never-seen") and "TRAIN-CMD" in page
    assert "does not exist" in render_page(report(absent), "TRAIN-CMD")


def test_dense_target_needs_every_organ_and_the_page_stays_short():
    page = render_page(report(dense=(0.96, 0.96, 0.96, 0.89)), "CMD")  # mean 0.9425, one organ under 0.90
    assert rows(page, "| CHAOS T2-SPIR, dense strokes (5")[0].rstrip(" |").endswith("no")
    assert rows(page, "| CHAOS T2-SPIR, sparse strokes (5")[0].rstrip(" |").endswith("yes")
    assert rows(page, "| generated, T1w strokes -> T2w")[0].split("|")[3].strip() == "not run"
    assert len(page.splitlines()) < 100


def test_from_json_writes_the_page_without_computing(tmp_path, capsys):
    saved = tmp_path / "evaluation.json"
    saved.write_text(json.dumps(report(MEASURED)))
    out = tmp_path / "results.md"
    assert evaluate.main(["--from-json", str(saved), "--results", str(out)]) == 0
    assert out.read_text(encoding="utf-8") == render_page(report(MEASURED), evaluate.NEVER_SEEN_COMMAND)
    assert "--no-chaos" in evaluate.NEVER_SEEN_COMMAND


def test_model_card_reports_the_never_seen_weights_from_the_json(tmp_path, capsys):
    torch.manual_seed(0)
    tiny = ModelConfig(input_size=64, embed_dim=16, depths=(1, 1, 1, 1), hidden_dim=32, num_queries=3, num_points=4)
    weights = tmp_path / "crossmr_model.pt"
    save_weights(CrossMRNet(tiny), weights, {"steps": 10, "chaos_train_subjects": ["01"], "ema_decay": 0.999})
    saved = tmp_path / "evaluation.json"
    for entry, expected in ((MEASURED, "dense 0.825, sparse 0.725 (shipped model 0.930, 0.900)"),
                            (None, "Not measured yet")):
        saved.write_text(json.dumps(report(entry)))
        out = tmp_path / "MODEL_CARD.md"
        model_card.main(["--weights", str(weights), "--json", str(saved), "--commit", "abc1234", "--out", str(out)])
        card = out.read_text(encoding="utf-8")
        assert expected in card and "--no-chaos" in card and "Commit: abc1234" in card
        assert ("| CHAOS T2-SPIR, dense strokes: never-seen" in card) == (entry is not None)
        assert len(card.splitlines()) < 80


def test_page_says_when_scored_chaos_subjects_were_in_training():
    held_out = report(dict(MEASURED, chaos_label_subjects=["01", "33"]))
    held_out |= {"chaos_subjects": ["33", "34"], "chaos_image_subjects": ["01", "02"]}
    page = render_page(held_out, "CMD")
    assert "CHAOS subjects 33 34, never trained on" in page and "measure fit" not in page and "(fit)" not in page
    assert "organ label maps of subjects 33: their anatomy was in training" in page
    trained = held_out | {"chaos_image_subjects": ["01", "33", "34"]}
    page = render_page(trained, "CMD")
    assert "trained on the images of 33 34" in page
    assert "| CHAOS T2-SPIR, dense strokes (5 volumes), subjects CrossMR was trained on (fit) |" in page
    assert "## Caveats\n\nThe shipped weights were trained on the images of CHAOS subjects 33 34" in page


def test_model_card_of_weights_trained_on_every_chaos_subject_says_no_chaos_score_is_held_out(tmp_path):
    from CrossMRLib.model.data import CHAOS_SUBJECTS, VAL_SUBJECTS

    torch.manual_seed(0)
    tiny = ModelConfig(input_size=64, embed_dim=16, depths=(1, 1, 1, 1), hidden_dim=32, num_queries=3, num_points=4)
    weights = tmp_path / "crossmr_model.pt"
    every = list(CHAOS_SUBJECTS)
    save_weights(CrossMRNet(tiny), weights, {"steps": 10, "chaos_image_subjects": every, "chaos_label_subjects": every})
    saved = tmp_path / "evaluation.json"
    saved.write_text(json.dumps(report(MEASURED) | {"chaos_subjects": list(VAL_SUBJECTS),
                                                    "chaos_image_subjects": every}))
    out = tmp_path / "MODEL_CARD.md"
    model_card.main(["--weights", str(weights), "--json", str(saved), "--commit", "abc1234", "--out", str(out)])
    card = out.read_text(encoding="utf-8")
    assert "every CHAOS subject was in training, so no CHAOS score here is held out" in card
    assert "(shipped model, trained on them: 0.930, 0.900)" in card and "they measure fit" in card
