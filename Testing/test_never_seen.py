"""The never-seen weights of train/evaluate.py: absent file, checksum, weights that did see real images, and
an evaluation on a tiny CHAOS-like folder that scores them with the shipped model's strokes."""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "train"))

import evaluate  # noqa: E402
from never_seen import load_never_seen  # noqa: E402

from CrossMRLib.errors import InputError  # noqa: E402
from CrossMRLib.io import write_labels_nifti, write_series_nifti  # noqa: E402
from CrossMRLib.model.config import ModelConfig  # noqa: E402
from CrossMRLib.model.network import CrossMRNet  # noqa: E402
from CrossMRLib.model.weights import save_weights, sidecar  # noqa: E402
from synthetic import make_series  # noqa: E402

TINY = ModelConfig(input_size=64, embed_dim=16, depths=(1, 1, 1, 1), hidden_dim=32, num_queries=3, num_points=4)


def tiny_weights(path: Path, images: list[str], key: str = "chaos_image_subjects") -> Path:
    """Tiny weights whose metadata says which CHAOS subjects' images trained them (`key`: as train.py records it,
    or chaos_train_subjects as older weights do)."""
    torch.manual_seed(0)
    meta = {key: images, "chaos_label_subjects": ["01"], "command": "t --no-chaos"}
    save_weights(CrossMRNet(TINY).eval(), path, meta)
    return path


def test_absent_file_is_reported_not_loaded(tmp_path):
    method, entry = load_never_seen(tmp_path / "crossmr_never_seen.pt")
    assert method is None and entry["measured"] is False and "does not exist" in entry["reason"]


def test_weights_load_only_with_a_matching_sidecar(tmp_path):
    """Like the shipped weights: a wrong or missing `.sha256` stops the evaluation with one line."""
    path = tiny_weights(tmp_path / "w.pt", [])
    method, entry = load_never_seen(path)
    assert method is not None and entry["sha256"] == sidecar(path).read_text().split()[0]
    assert entry["chaos_label_subjects"] == ["01"]
    sidecar(path).write_text("0" * 64 + "  w.pt\n")
    with pytest.raises(InputError, match="corrupt"):
        load_never_seen(path)
    sidecar(path).unlink()
    with pytest.raises(InputError, match="no sha256"):
        load_never_seen(path)


@pytest.mark.parametrize("key", ["chaos_image_subjects", "chaos_train_subjects"])
def test_weights_trained_on_chaos_images_are_refused(tmp_path, key):
    with pytest.raises(InputError, match="--no-chaos"):
        load_never_seen(tiny_weights(tmp_path / "w.pt", ["01", "02"], key))


def test_evaluation_scores_never_seen_weights_on_the_chaos_subjects(tmp_path, capsys, monkeypatch):
    drawn: list[tuple[str, str]] = []  # (mode, strokes' sha1) in the order the evaluation draws them

    def recorded(labels, spacing, mode, seed):
        scr, seeds = draw(labels, spacing, mode, seed)
        drawn.append((mode, hashlib.sha1(scr.tobytes()).hexdigest()))
        return scr, seeds

    draw = evaluate.scribbles_for
    monkeypatch.setattr(evaluate, "scribbles_for", recorded)
    image, labels = make_series("chaos", shape_kji=(6, 48, 48), spacing=(7.0, 7.0, 8.0))
    folder = tmp_path / "chaos" / "patient_33" / "T2SPIR"
    folder.mkdir(parents=True)
    write_series_nifti(image, folder / "image.nii.gz")
    write_labels_nifti(labels.array, image, folder / "label.nii.gz")
    never = tiny_weights(tmp_path / "crossmr_never_seen.pt", [])
    out = tmp_path / "evaluation.json"
    args = ["--chaos", str(tmp_path / "chaos"), "--subjects", "33", "--phantom-seeds", "--no-growcut",
            "--threads", "1", "--json", str(out), "--results", "-", "--interaction-rounds", "0"]
    evaluate.main(args + ["--never-seen-weights", str(never)])
    entry = json.loads(out.read_text(encoding="utf-8"))["never_seen"]
    assert entry["measured"] and entry["chaos_dense"]["volumes"] == 1
    assert set(entry["chaos_sparse"]["model"]) == {"1", "2", "3", "4", "mean"}
    assert len(drawn) == 4 and drawn[:2] == drawn[2:]  # shipped, then never-seen: the very same strokes
    log = capsys.readouterr().out
    assert "never-seen CHAOS 33 dense" in log and "never-seen CHAOS 33 sparse" in log
    evaluate.main(args + ["--never-seen-weights", str(tmp_path / "absent.pt")])
    assert "never-seen row not measured" in capsys.readouterr().out
    assert json.loads(out.read_text(encoding="utf-8"))["never_seen"]["measured"] is False


def test_the_committed_never_seen_weights_saw_no_real_image():
    """Resources/Models/crossmr_never_seen.pt, behind the 'real contrast never seen in training' row: it matches its
    checksum, was trained with --no-chaos on no CHAOS image, and not even the validation subjects' label maps."""
    from never_seen import label_map_subjects, real_image_subjects
    from recipes import NEVER_SEEN_WEIGHTS

    from CrossMRLib.model.data import VAL_SUBJECTS

    method, entry = load_never_seen(NEVER_SEEN_WEIGHTS)
    assert method is not None and entry["measured"]
    assert real_image_subjects(method.meta) == [] and "--no-chaos" in method.meta["command"]
    assert label_map_subjects(method.meta) and not set(label_map_subjects(method.meta)) & set(VAL_SUBJECTS)
