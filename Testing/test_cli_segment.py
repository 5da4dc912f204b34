"""`crossmr segment`: the CLI contract (outputs, run record, exit codes, one-line errors, no overwrite)."""

import json

import nibabel as nib
import numpy as np
import pytest

from CrossMRLib.cli import main
from CrossMRLib.io import read_seg_nrrd, read_series, write_labels_nifti, write_series_nifti
from CrossMRLib.metrics import dice
from synthetic import make_series

T2_LIKE = {0: 0.2, 1: 0.3, 2: 0.7, 3: 0.75, 4: 0.6}  # another contrast: liver dark, kidneys bright


@pytest.fixture()
def study(tmp_path):
    """Reference + two targets (another contrast on another grid, and a feet-first series) + scribbles."""
    ref, ref_labels = make_series("t1w", shape_kji=(16, 84, 84), spacing=(4.0, 4.0, 8.0), origin=(-168, -168, -64))
    t2, t2_labels = make_series("t2w", shape_kji=(12, 70, 70), spacing=(4.8, 4.8, 10.0), origin=(-170, -170, -60),
                                contrast=T2_LIKE, seed=1)
    dwi, dwi_labels = make_series("dwi", shape_kji=(14, 56, 56), spacing=(6.0, 6.0, 8.0), origin=(-168, -168, -56),
                                  flip_k=True, seed=2)
    for series in (ref, t2, dwi):
        write_series_nifti(series, tmp_path / f"{series.name}.nii.gz")
    from scipy import ndimage

    scribbles = np.zeros(ref.shape, np.uint8)
    for label in range(1, 5):
        core = ndimage.binary_erosion(ref_labels.array == label, iterations=2)
        scribbles[core] = label
    write_labels_nifti(scribbles, ref, tmp_path / "scribbles.nii.gz")
    truth = {"t1w": ref_labels.array, "t2w": t2_labels.array, "dwi": dwi_labels.array}
    return tmp_path, truth


def segment(folder, *extra):
    return main(["segment", str(folder / "t1w.nii.gz"), str(folder / "scribbles.nii.gz"),
                 str(folder / "t2w.nii.gz"), str(folder / "dwi.nii.gz"), "-o", str(folder / "out"),
                 "--method", "region-growing", *extra])


def test_segment_writes_every_series_with_its_own_grid_and_a_run_record(study, capsys):
    folder, truth = study
    assert segment(folder, "--progress") == 0
    assert "PROGRESS 1.000 done" in capsys.readouterr().out
    out = folder / "out"
    for name in ("t1w", "t2w", "dwi"):
        source = read_series(folder / f"{name}.nii.gz")
        labels = read_series(out / f"{name}.labels.nii.gz")
        assert nib.load(str(out / f"{name}.labels.nii.gz")).get_data_dtype() == np.uint8
        assert labels.shape == source.shape
        np.testing.assert_allclose(labels.ijk_to_ras, source.ijk_to_ras, atol=1e-4)
        layers, _, segments = read_seg_nrrd(out / f"{name}.seg.nrrd")
        np.testing.assert_array_equal(layers[0], labels.array)
        assert [s.name for s in segments] == ["liver", "right kidney", "left kidney", "spleen"]
        for label in range(1, 5):
            assert dice(labels.array == label, truth[name] == label) > 0.7, (name, label)
    record = json.loads((out / "crossmr_run.json").read_text())
    assert record["method"] == "region-growing"
    assert record["timings"]["total_s"] > 0
    assert record["pairing"]["dwi"]["rule"] == "position"
    first = record["pairing"]["dwi"]["pairs"][0]
    assert first == {"target": 0, "reference": 14, "distance_mm": 0.0}  # feet-first: dwi slice 0 is z=48 mm
    assert {"torch", "numpy"} <= set(record["versions"])


def test_existing_outputs_are_never_overwritten_without_the_flag(study, capsys):
    folder, _ = study
    assert segment(folder) == 0
    marker = (folder / "out" / "t1w.labels.nii.gz").read_bytes()
    capsys.readouterr()
    assert segment(folder) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "--overwrite" in err and len(err.splitlines()) == 1
    assert (folder / "out" / "t1w.labels.nii.gz").read_bytes() == marker
    assert segment(folder, "--overwrite") == 0


def test_missing_organ_scribble_segments_the_others_and_warns(study, capsys):
    folder, _ = study
    reference = read_series(folder / "t1w.nii.gz")
    scribbles = read_series(folder / "scribbles.nii.gz").array
    scribbles[scribbles == 4] = 0
    write_labels_nifti(scribbles, reference, folder / "scribbles.nii.gz")
    assert segment(folder) == 0
    assert "warning: no scribble for spleen" in capsys.readouterr().err
    labels = read_series(folder / "out" / "t2w.labels.nii.gz").array
    assert not (labels == 4).any() and (labels == 1).any()


def test_target_without_overlap_falls_back_to_relative_order_and_warns(tmp_path, capsys):
    ref, ref_labels = make_series("t1w", shape_kji=(16, 48, 48), spacing=(7.0, 7.0, 8.0), origin=(-168, -168, -64))
    far, _ = make_series("far", shape_kji=(8, 48, 48), spacing=(7.0, 7.0, 8.0), origin=(-168, -168, 900))
    write_series_nifti(ref, tmp_path / "t1w.nii.gz")
    write_series_nifti(far, tmp_path / "far.nii.gz")
    write_labels_nifti((ref_labels.array == 1).astype(np.uint8), ref, tmp_path / "s.nii.gz")
    code = main(["segment", str(tmp_path / "t1w.nii.gz"), str(tmp_path / "s.nii.gz"), str(tmp_path / "far.nii.gz"),
                 "-o", str(tmp_path / "out"), "--method", "region-growing"])
    assert code == 0
    assert "does not overlap" in capsys.readouterr().err
    record = json.loads((tmp_path / "out" / "crossmr_run.json").read_text())
    assert record["pairing"]["far"]["rule"] == "relative-order"


def bad_input_cases(folder):
    ref = read_series(folder / "t1w.nii.gz")
    other = make_series("x", shape_kji=(16, 48, 48), spacing=(6.0, 7.0, 8.0))[0]
    write_labels_nifti(np.ones(other.shape, np.uint8), other, folder / "offgrid.nii.gz")
    write_labels_nifti(np.full(ref.shape, 9, np.uint8), ref, folder / "nine.nii.gz")
    write_labels_nifti(np.zeros(ref.shape, np.uint8), ref, folder / "empty.nii.gz")
    (folder / "broken.nii.gz").write_bytes(b"not an image")
    sagittal = make_series("sag", shape_kji=(8, 48, 48), directions=[[0, 0, 1], [1, 0, 0], [0, 1, 0]])[0]
    write_series_nifti(sagittal, folder / "sag.nii.gz")
    r, s = str(folder / "t1w.nii.gz"), str(folder / "scribbles.nii.gz")
    return {
        "missing file": ([r, s, str(folder / "missing.nii.gz")], "no such file"),
        "unreadable file": ([r, s, str(folder / "broken.nii.gz")], "cannot be read"),
        "scribbles off grid": ([r, str(folder / "offgrid.nii.gz")], "not in the reference grid"),
        "scribble values": ([r, str(folder / "nine.nii.gz")], "must be 0..4"),
        "no scribbles": ([r, str(folder / "empty.nii.gz")], "scribbles are empty"),
        "sagittal target": ([r, s, str(folder / "sag.nii.gz")], "axial"),
        "duplicate names": ([r, s, r], "both named 't1w'"),
        "bad threads": ([r, s, "--threads", "0"], "--threads"),
        "bad volume": ([r, s, "--volume", "3"], "out of range"),
    }


def test_every_bad_input_exits_2_with_one_error_line_and_writes_nothing(study, capsys):
    folder, _ = study
    for case, (args, message) in bad_input_cases(folder).items():
        capsys.readouterr()
        code = main(["segment", *args, "-o", str(folder / "out"), "--method", "region-growing"])
        err = capsys.readouterr().err.strip().splitlines()
        assert code == 2, case
        assert err[-1].startswith("error: ") and message in err[-1], (case, err)
        assert "Traceback" not in "\n".join(err), case
        assert not (folder / "out").exists(), case


def test_the_device_option_runs_on_the_cpu_and_a_missing_gpu_is_a_one_line_error(study, tmp_path, capsys):
    import torch

    from CrossMRLib.model.config import ModelConfig
    from CrossMRLib.model.network import CrossMRNet
    from CrossMRLib.model.weights import save_weights

    folder, _ = study
    torch.manual_seed(0)
    weights = tmp_path / "tiny.pt"
    save_weights(CrossMRNet(ModelConfig(input_size=64, embed_dim=16, depths=(1, 1, 1, 1), hidden_dim=32,
                                        num_queries=3, num_points=4)), weights)
    args = ["segment", str(folder / "t1w.nii.gz"), str(folder / "scribbles.nii.gz"), str(folder / "t2w.nii.gz"),
            "--method", "model", "--weights", str(weights), "--threads", "1"]
    out = folder / "out_cpu"
    assert main([*args, "-o", str(out), "--device", "cpu"]) == 0
    assert json.loads((out / "crossmr_run.json").read_text())["device"] == "cpu"
    if not torch.cuda.is_available():
        capsys.readouterr()
        assert main([*args, "-o", str(folder / "out_cuda"), "--device", "cuda"]) == 2
        err = capsys.readouterr().err.strip()
        assert err.count("\n") == 0 and "no CUDA GPU" in err and "--device cpu" in err
        assert not (folder / "out_cuda").exists()


def test_the_command_line_starts_without_torch_or_the_phantom_generator():
    """`crossmr --help` and every command's argument errors answer before the heavy imports: torch and
    the study generator load only in the command that needs them."""
    import subprocess
    import sys

    code = ("import sys; from CrossMRLib.cli import build_parser; build_parser(); "
            "bad = [m for m in ('torch', 'monai', 'CrossMRLib.phantom.study') "
            "if m in sys.modules]; print(', '.join(bad)); sys.exit(1 if bad else 0)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
