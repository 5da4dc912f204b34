"""`crossmr batch`: a cohort from a manifest; failing studies reported, the rest carried on; resume after a kill; shards."""

import csv
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from CrossMRLib.cli import main
from CrossMRLib.io import write_labels_nifti, write_series_nifti
from synthetic import make_series

HEADER = "reference,scribbles,targets,out,study\n"


def write_study(folder, seed):
    """A small two-series NIfTI study with scribbles (organ cores) on the reference."""
    from scipy import ndimage

    folder.mkdir(parents=True)
    ref, labels = make_series("t1w", shape_kji=(10, 40, 40), spacing=(8.0, 8.0, 10.0), origin=(-160, -160, -50), seed=seed)
    t2, _ = make_series("t2w", shape_kji=(8, 36, 36), spacing=(9.0, 9.0, 12.0), origin=(-162, -162, -48), seed=seed + 1)
    write_series_nifti(ref, folder / "t1w.nii.gz")
    write_series_nifti(t2, folder / "t2w.nii.gz")
    scribbles = np.zeros(ref.shape, np.uint8)
    for label in range(1, 5):
        scribbles[ndimage.binary_erosion(labels.array == label, iterations=1)] = label
    write_labels_nifti(scribbles, ref, folder / "scribbles.nii.gz")


@pytest.fixture()
def cohort(tmp_path):
    for n in range(1, 4):
        write_study(tmp_path / f"p{n}", n)
    rows = [f"p{n}/t1w.nii.gz,p{n}/scribbles.nii.gz,p{n}/t2w.nii.gz,results/p{n}," for n in range(1, 4)]
    (tmp_path / "cohort.csv").write_text(HEADER + "\n".join(rows) + "\n")
    return tmp_path


def summary(path):
    return {int(r["row"]): r for r in csv.DictReader(path.open())}


def test_a_failing_study_is_reported_and_the_rest_carried_on(cohort, dicom_study, capsys):
    folder, scribbles, _ = dicom_study
    rows = (cohort / "cohort.csv").read_text()
    rows += "p1/t1w.nii.gz,p1/missing.nii.gz,,results/bad,\n"  # scribbles missing
    rows += ",p2/scribbles.nii.gz,,results/norow,\n"  # malformed: no reference
    rows += f"3,{scribbles},7,results/dicom,{folder}\n"  # a DICOM study picked by series number
    rows += "p3/t1w.nii.gz,p3/scribbles.nii.gz,,results/p1,\n"  # same out folder as row 1
    (cohort / "cohort.csv").write_text(rows)
    code = main(["batch", str(cohort / "cohort.csv"), "--jobs", "2", "--threads", "1", "--method", "region-growing"])
    err = capsys.readouterr().err
    assert code == 2
    table = summary(cohort / "cohort.summary.csv")
    assert [table[n]["status"] for n in range(1, 8)] == ["done"] * 3 + ["failed"] * 2 + ["done", "failed"]
    assert "row 4: " in table[4]["message"] and "no such scribble file" in table[4]["message"]
    assert "no reference" in table[5]["message"] and "also row 1" in table[7]["message"]
    assert [line for line in err.splitlines() if line.startswith("error:")] == \
           [f"error: {table[n]['message']}" for n in (4, 5, 7)]
    for n in (1, 2, 3):
        record = json.loads((cohort / "results" / f"p{n}" / "crossmr_run.json").read_text())
        assert set(record["series"]) == {"t1w", "t2w"} and record["volumes"]
    assert (cohort / "results" / "dicom" / "7_t2_haste_tra_fs.seg.nrrd").is_file()
    assert sorted(p.name for p in (cohort / "results").iterdir()) == ["dicom", "p1", "p2", "p3"]  # nothing for bad rows


def test_a_killed_batch_resumes_without_redoing_finished_studies(cohort):
    command = [sys.executable, "-m", "CrossMRLib.cli", "batch", str(cohort / "cohort.csv"), "--threads", "1",
               "--method", "region-growing"]
    first = cohort / "results" / "p1" / "crossmr_run.json"
    process = subprocess.Popen(command, start_new_session=True, stderr=subprocess.DEVNULL)
    deadline = time.time() + 240
    while not first.exists() and time.time() < deadline and process.poll() is None:
        time.sleep(0.2)
    os.killpg(process.pid, signal.SIGKILL)  # the whole job, mid-cohort, as a scheduler's hard kill does
    process.wait()
    assert first.exists(), "the first study never finished"
    finished = {p.name: (p / "crossmr_run.json").stat().st_mtime_ns
                for p in (cohort / "results").iterdir() if (p / "crossmr_run.json").exists()}
    assert len(finished) < 3, "the batch finished before it was killed; nothing was resumed"
    assert main(["batch", str(cohort / "cohort.csv"), "--threads", "1", "--method", "region-growing"]) == 0
    table = summary(cohort / "cohort.summary.csv")
    for n in (1, 2, 3):
        name = f"p{n}"
        assert table[n]["status"] == ("skipped" if name in finished else "done"), n
        assert (cohort / "results" / name / "crossmr_run.json").exists()
        if name in finished:
            assert (cohort / "results" / name / "crossmr_run.json").stat().st_mtime_ns == finished[name]
    assert sorted(p.name for p in (cohort / "results").iterdir()) == ["p1", "p2", "p3"]  # no partial folders left


def test_shards_split_the_cohort_without_overlap(cohort, capsys):
    for index in (0, 1):
        assert main(["batch", str(cohort / "cohort.csv"), "--shard", f"{index}/2", "--threads", "1",
                     "--method", "region-growing"]) == 0
    first, second = (summary(cohort / f"cohort.shard-{i}-of-2.summary.csv") for i in (0, 1))
    assert sorted(first) == [1, 3] and sorted(second) == [2]
    assert all(r["status"] == "done" for r in [*first.values(), *second.values()])


@pytest.mark.parametrize("manifest, args, message", [
    ("reference,scribbles\nx,y\n", [], "lacks column(s) out"),
    (HEADER, [], "no study rows"),
    (HEADER + "a,b,,c,\n", ["--shard", "2/2"], "I must be 0..N-1"),
    (HEADER + "a,b,,c,\n", ["--shard", "two"], "I/N"),
])
def test_a_malformed_manifest_or_option_is_one_error_line(tmp_path, capsys, manifest, args, message):
    (tmp_path / "m.csv").write_text(manifest)
    assert main(["batch", str(tmp_path / "m.csv"), *args]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and message in err[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.csv"]


def test_a_terminated_batch_stops_its_running_study_and_leaves_no_partial_output(cohort):
    """SIGTERM (a scheduler's stop, Slurm's scancel) to the batch alone ends the study it is running too."""
    command = [sys.executable, "-m", "CrossMRLib.cli", "batch", str(cohort / "cohort.csv"), "--threads", "1",
               "--method", "region-growing"]
    process = subprocess.Popen(command, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 240
    while not list((cohort / "results").glob(".*.crossmr-partial")) and time.time() < deadline:
        time.sleep(0.05)
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=120)
    assert process.returncode == 130 and "same command resumes" in err
    time.sleep(5.0)  # a study process that outlived the batch would finish (or write into its partial folder) now
    assert not list((cohort / "results").glob(".*.crossmr-partial"))
    assert not (cohort / "results" / "p1").exists()  # the study running at the stop was ended, not finished
    assert main(["batch", str(cohort / "cohort.csv"), "--threads", "1", "--method", "region-growing"]) == 0
    assert sorted(p.name for p in (cohort / "results").iterdir()) == ["p1", "p2", "p3"]
