"""Corrections in the Slicer module (#39) on a real MRML scene: "<series> CrossMR strokes" nodes, strokes on a
target, erase strokes, re-running one series without touching any other node, bad strokes, and the background
process / CLI (`--strokes`, `--only`). A small synthetic three-series study and region growing keep it fast."""

from __future__ import annotations

import sys

import numpy as np
import pytest
from scipy import ndimage

from slicer_scene import SlicerScene, paint, segment_array  # noqa: E402  (skips without slicer-core)
from synthetic import make_series  # noqa: E402
from CrossMRLib.errors import InputError  # noqa: E402
from CrossMRLib.grids import carry_labels  # noqa: E402
from CrossMRLib.organs import ORGANS  # noqa: E402
from CrossMRLib.pairing import pair_slices  # noqa: E402
from CrossMRSegmentLib import CrossMRSegmentLogic  # noqa: E402
from CrossMRSegmentLib.strokes import createStrokesNode  # noqa: E402

LIVER, RIGHT_KIDNEY, LEFT_KIDNEY, SPLEEN = 1, 2, 3, 4


@pytest.fixture(scope="module")
def series():
    """{name: (image, truth)}: T1w (reference), T2w and DWI on three different grids."""
    return {
        "t1w": make_series("t1w", shape_kji=(16, 84, 84), spacing=(4.0, 4.0, 8.0), origin=(-168, -168, -64)),
        "t2w": make_series("t2w", shape_kji=(12, 70, 70), spacing=(4.8, 4.8, 10.0), origin=(-170, -170, -60),
                           contrast={0: 0.2, 1: 0.3, 2: 0.7, 3: 0.75, 4: 0.6}, seed=1),
        "dwi": make_series("dwi", shape_kji=(10, 40, 40), spacing=(8.0, 8.0, 12.0), origin=(-160, -160, -60),
                           contrast={0: 0.1, 1: 0.4, 2: 0.8, 3: 0.8, 4: 0.9}, seed=2),
    }


class Study:
    """A scene with the three series in one study, scribbles on T1w for liver and both kidneys (no spleen)."""

    def __init__(self, series) -> None:
        self.env = SlicerScene()
        self.scene = self.env.scene
        sh = self.env.sh
        study_item = sh.CreateStudyItem(sh.CreateSubjectItem(sh.GetSceneItemID(), "patient"), "abdomen")
        self.volumes = {name: self.env.add_volume(image, study_item) for name, (image, _) in series.items()}
        self.truth = {name: labels.array for name, (_, labels) in series.items()}
        self.logic = CrossMRSegmentLogic(self.scene)
        self.logic.method = "region-growing"
        self.scribbles = self.logic.createScribbleSegmentation(self.volumes["t1w"])
        self.scribble_labels = np.zeros(self.truth["t1w"].shape, np.uint8)
        for organ in ORGANS[:3]:
            mask = self.truth["t1w"] == organ.label
            k = int(np.argmax(mask.sum(axis=(1, 2))))
            stroke = np.zeros_like(mask)
            stroke[k] = ndimage.binary_erosion(mask[k], iterations=3)
            paint(self.scribbles, organ.name, stroke, self.volumes["t1w"])
            self.scribble_labels[stroke] = organ.label

    def run(self, names=("t2w", "dwi"), **options) -> dict:
        return self.logic.run(self.volumes["t1w"], self.scribbles, [self.volumes[n] for n in names], **options)

    def result(self, name: str) -> np.ndarray:
        """The series' CrossMR result as organ labels on its grid."""
        (node,) = self.logic.outputNodes(self.volumes[name])
        labels = np.zeros(self.truth[name].shape, np.uint8)
        segmentation = node.GetSegmentation()
        for index in range(segmentation.GetNumberOfSegments()):
            organ = next(o for o in ORGANS if o.name == segmentation.GetNthSegment(index).GetName())
            labels[segment_array(node, segmentation.GetNthSegmentID(index), self.volumes[name]) > 0] = organ.label
        return labels

    def strokes(self, name: str, segment: str, mask: np.ndarray, grid: str | None = None):
        """Paint `mask` into the series' strokes node (on `grid`'s geometry, default the series' own)."""
        node = self.logic.correctionStrokesNode(self.volumes[name])
        paint(node, segment, mask, self.volumes[grid or name])
        return node


def _user_node(study: Study, name: str):
    """A segmentation the user made on T2w, one painted segment."""
    node = study.scene.AddNewNodeByClass("vtkMRMLSegmentationNode", name)
    node.CreateDefaultDisplayNodes()
    node.SetReferenceImageGeometryParameterFromVolumeNode(study.volumes["t2w"])
    node.GetSegmentation().AddEmptySegment("mine", "mine", [0.1, 0.9, 0.1])
    mask = np.zeros(study.truth["t2w"].shape, bool)
    mask[5, 10:20, 10:20] = True
    paint(node, "mine", mask, study.volumes["t2w"])
    return node


# ----------------------------------------------------------------------------- the strokes node
def test_strokes_node_has_the_organs_and_background_on_its_series_and_is_listed_once_painted(series):
    study = Study(series)
    t2w = study.volumes["t2w"]
    assert study.logic.seriesWithStrokes() == []
    node = study.logic.correctionStrokesNode(t2w)
    assert study.logic.correctionStrokesNode(t2w) is node  # one per series
    assert node.GetName() == "t2w CrossMR strokes"
    segmentation = node.GetSegmentation()
    names = [segmentation.GetNthSegment(i).GetName() for i in range(segmentation.GetNumberOfSegments())]
    assert names == [o.name for o in ORGANS] + ["background"]
    for organ in ORGANS:
        assert np.allclose(segmentation.GetSegment(segmentation.GetSegmentIdBySegmentName(organ.name)).GetColor(),
                           organ.color_float)
    assert node.GetNodeReference(node.GetReferenceImageGeometryReferenceRole()) is t2w
    assert node.GetAttribute("CrossMR.Output") is None and study.logic.outputNodes() == []
    sh = study.env.sh
    assert sh.GetItemParent(sh.GetItemByDataNode(node)) == sh.GetItemParent(sh.GetItemByDataNode(t2w))
    assert study.logic.seriesWithStrokes() == []  # created but empty
    mask = np.zeros(study.truth["t2w"].shape, bool)
    mask[6, 30:33, 30:33] = True
    study.strokes("t2w", "background", mask)
    assert study.logic.seriesWithStrokes() == [t2w]


# ----------------------------------------------------------------------------- strokes on a target
def test_an_organ_stroke_on_a_target_segments_that_organ_on_that_target_only(series):
    study = Study(series)
    study.run()
    truth = study.truth["t2w"] == SPLEEN
    assert not (study.result("t2w") == SPLEEN).any()  # not scribbled on T1w: missing on T2w
    k = int(np.argmax(truth.sum(axis=(1, 2))))
    stroke = np.zeros_like(truth)
    stroke[k] = ndimage.binary_erosion(truth[k], iterations=2)  # one stroke, one slice
    study.strokes("t2w", "spleen", stroke)
    outputs = study.run()
    fixed = study.result("t2w") == SPLEEN
    assert fixed[stroke].all()  # every painted voxel keeps its organ
    assert 2 * (fixed & truth).sum() / (fixed.sum() + truth.sum()) > 0.7  # and the organ is found around it
    assert (fixed.sum(axis=(1, 2)) > 0).sum() >= 3  # on neighbouring slices too
    assert not (study.result("dwi") == SPLEEN).any() and not (study.result("t1w") == SPLEEN).any()
    segmentation = outputs[study.volumes["t2w"].GetID()].GetSegmentation()
    assert segmentation.GetSegmentIdBySegmentName("spleen")  # a segment for the stroked organ
    assert not outputs[study.volumes["dwi"].GetID()].GetSegmentation().GetSegmentIdBySegmentName("spleen")
    rows = {(row["series"], row["organ"]): row["volume_ml"] for row in study.logic.lastVolumes}
    assert rows["t2w", "spleen"] > 0 and rows["dwi", "spleen"] == rows["t1w", "spleen"] == 0


@pytest.mark.parametrize("cover", ["part", "whole"])  # whole: the stroke covers the organ on its slice
def test_an_erase_stroke_removes_the_organ_there_and_on_the_neighbouring_slices(series, cover):
    study = Study(series)
    study.run()
    labels_before = study.result("t2w")
    before = labels_before == LEFT_KIDNEY
    t1w, t2w = series["t1w"][0], series["t2w"][0]
    anchors = carry_labels(study.scribble_labels, t1w, t2w, pair_slices(t1w, t2w)) == LEFT_KIDNEY
    anchor_slice = int(np.argmax(anchors.sum(axis=(1, 2))))
    slices = np.flatnonzero(before.sum(axis=(1, 2)))
    far = int(slices[np.argmax(np.abs(slices - anchor_slice))])  # the kidney's slice farthest from its scribble
    painted = far + (1 if far < anchor_slice else -1)  # the erase stroke goes on the slice next to it
    assert abs(painted - anchor_slice) >= 2 and before[far].any()
    stroke = np.zeros_like(before)
    centre = np.round(ndimage.center_of_mass(before[painted])).astype(int)
    stroke[painted, centre[0] - 1:centre[0] + 2, centre[1] - 1:centre[1] + 2] = True
    if cover == "whole":
        stroke[painted] = before[painted]
    assert (stroke <= before).all() and (cover == "whole" or stroke.sum() < before[painted].sum() / 2)
    study.strokes("t2w", "background", stroke)
    assert study.logic.seriesWithStrokes() == [study.volumes["t2w"]]
    study.logic.rerunSeries(study.volumes["t2w"], study.volumes["t1w"], study.scribbles,
                            [study.volumes["t2w"], study.volumes["dwi"]])
    labels_after = study.result("t2w")
    after = labels_after == LEFT_KIDNEY
    assert not after[painted].any()  # gone on the stroked slice, not just under the stroke
    assert not after[far].any()  # and on the unpainted slice next to it
    assert after[anchor_slice].sum() == before[anchor_slice].sum()  # the part near the scribble stays
    assert not (after & ~before).any()
    assert np.array_equal(np.where(before, 0, labels_before), np.where(before, 0, labels_after))  # other organs kept


def test_organ_strokes_on_the_reference_act_as_scribbles_for_every_series(series):
    study = Study(series)
    truth = study.truth["t1w"] == SPLEEN
    k = int(np.argmax(truth.sum(axis=(1, 2))))
    stroke = np.zeros_like(truth)
    stroke[k] = ndimage.binary_erosion(truth[k], iterations=3)
    study.strokes("t1w", "spleen", stroke)
    prepared = study.logic.prepare(study.volumes["t1w"], study.scribbles, [study.volumes["t2w"]])
    assert prepared.organLabels == [LIVER, RIGHT_KIDNEY, LEFT_KIDNEY, SPLEEN]
    study.run(["t2w"])
    for name in ("t1w", "t2w"):
        found, expected = study.result(name) == SPLEEN, study.truth[name] == SPLEEN
        assert 2 * (found & expected).sum() / (found.sum() + expected.sum()) > 0.7, name


# ----------------------------------------------------------------------------- re-running one series
def test_rerunning_one_series_rewrites_only_its_result(series):
    study = Study(series)
    first = study.run()
    dwi = study.volumes["dwi"]
    dwi_node = first[dwi.GetID()]
    edit = np.zeros(study.truth["dwi"].shape, bool)
    edit[2, 2:5, 2:5] = True  # a manual edit of the DWI result with the Segment Editor
    paint(dwi_node, "liver", edit | (segment_array(dwi_node, "liver", dwi) > 0), dwi)
    edited = segment_array(dwi_node, "liver", dwi)
    mine = _user_node(study, "my kidney")
    lookalike = _user_node(study, "t2w CrossMR")  # the user's, named like an output
    truth = study.truth["t2w"] == SPLEEN
    k = int(np.argmax(truth.sum(axis=(1, 2))))
    stroke = np.zeros_like(truth)
    stroke[k] = ndimage.binary_erosion(truth[k], iterations=2)
    strokes_node = study.strokes("t2w", "spleen", stroke)
    untouched = [first[study.volumes["t1w"].GetID()], dwi_node, study.scribbles, mine, lookalike, strokes_node,
                 *study.volumes.values()]
    mtimes = [node.GetMTime() for node in untouched]

    rerun = study.logic.rerunSeries(study.volumes["t2w"], study.volumes["t1w"], study.scribbles, [dwi])

    t2w_id = study.volumes["t2w"].GetID()
    assert list(rerun) == [t2w_id] and rerun[t2w_id] is not first[t2w_id]
    assert study.scene.GetNodeByID(first[t2w_id].GetID()) is None  # only its own earlier result was replaced
    assert (study.result("t2w") == SPLEEN)[stroke].all()
    for node, mtime in zip(untouched, mtimes):
        assert study.scene.GetNodeByID(node.GetID()) is node, node.GetName()
        assert node.GetMTime() == mtime, node.GetName()
    assert np.array_equal(segment_array(dwi_node, "liver", dwi), edited)  # the manual edit is kept
    assert segment_array(lookalike, "mine", study.volumes["t2w"]).sum() == 100
    assert sorted(n.GetName() for n in study.logic.outputNodes()) == ["dwi CrossMR", "t1w CrossMR", "t2w CrossMR"]
    # the volume table covers every series: the re-run one and the others as they are now
    rows = {(row["series"], row["organ"]): row for row in study.logic.lastVolumes}
    assert {series for series, _ in rows} == {"t1w", "t2w", "dwi"}
    voxel_ml = float(np.prod(series["dwi"][0].spacing)) / 1000
    assert rows["dwi", "liver"]["volume_ml"] == pytest.approx(edited.sum() * voxel_ml, abs=0.01)


def test_the_background_process_passes_strokes_and_the_series_to_rerun(series):
    """The GUI's default runner: the engine CLI in a child process gets `--strokes s<i>` and `--only s<i>`."""
    from CrossMRSegmentLib.process import SegmentationProcess

    study = Study(series)
    truth = study.truth["t2w"] == SPLEEN
    k = int(np.argmax(truth.sum(axis=(1, 2))))
    stroke = np.zeros(truth.shape, np.uint8)
    stroke[k][ndimage.binary_erosion(truth[k], iterations=2)] = SPLEEN
    stroke[k, :3, :3] = 1  # liver strokes outside the liver: kept in the result, whatever the image says
    study.strokes("t2w", "spleen", stroke == SPLEEN)
    study.strokes("t2w", "liver", stroke == 1)
    prepared = study.logic.prepare(study.volumes["t1w"], study.scribbles, [study.volumes["dwi"]],
                                   only=[study.volumes["t2w"]])
    assert [series.name for series in prepared.series] == ["t1w", "dwi", "t2w"] and prepared.only == ["t2w"]
    assert np.array_equal(prepared.strokes["t2w"], stroke)
    process = SegmentationProcess(prepared, "region-growing", python=sys.executable)
    command = process.command()
    process.cleanup()
    assert command[command.index("--strokes") + 1] == "s2" and command[command.index("--only") + 1] == "s2"
    labels = SegmentationProcess(prepared, "region-growing", python=sys.executable).runBlocking()
    direct = study.logic.compute(prepared)
    t2w_id = study.volumes["t2w"].GetID()
    assert set(labels) == set(direct) == {t2w_id}
    assert np.array_equal(labels[t2w_id], direct[t2w_id])
    assert (labels[t2w_id][stroke > 0] == stroke[stroke > 0]).all()


def test_strokes_on_a_series_left_out_of_the_run_are_not_used_and_said_so(series):
    study = Study(series)
    mask = np.zeros(study.truth["dwi"].shape, bool)
    mask[4, 10:12, 10:12] = True
    study.strokes("dwi", "spleen", mask)
    prepared = study.logic.prepare(study.volumes["t1w"], study.scribbles, [study.volumes["t2w"]])
    assert prepared.strokes == {}
    assert any("strokes on 'dwi' are not used" in w for w in prepared.warnings)


# ----------------------------------------------------------------------------- bad strokes
def _wrong_grid(study):
    mask = np.zeros(study.truth["t2w"].shape, bool)
    mask[5, 20:30, 20:30] = True
    study.strokes("dwi", "liver", mask, grid="t2w")  # painted with T2w as the source volume


def _removed_series(study):
    mask = np.zeros(study.truth["dwi"].shape, bool)
    mask[4, 10:12, 10:12] = True
    study.strokes("dwi", "liver", mask)
    study.scene.RemoveNode(study.volumes["dwi"])


def _not_an_organ(study):
    node = study.logic.correctionStrokesNode(study.volumes["t2w"])
    node.GetSegmentation().AddEmptySegment("pancreas", "pancreas", [0.9, 0.9, 0.1])
    mask = np.zeros(study.truth["t2w"].shape, bool)
    mask[5, 20:23, 20:23] = True
    paint(node, "pancreas", mask, study.volumes["t2w"])


def _two_nodes(study):
    mask = np.zeros(study.truth["t2w"].shape, bool)
    mask[5, 20:23, 20:23] = True
    study.strokes("t2w", "liver", mask)
    other = createStrokesNode(study.scene, study.volumes["t2w"])
    paint(other, "spleen", mask, study.volumes["t2w"])


BAD_STROKES = {
    "wrong grid": (_wrong_grid, "strokes in 'dwi CrossMR strokes' were painted on another geometry than 'dwi'"),
    "unknown series": (_removed_series, "belong to a series that is no longer in the scene"),
    "segment outside the organs": (_not_an_organ, "segment 'pancreas' .* is neither an organ nor 'background'"),
    "two strokes nodes on one series": (_two_nodes, "has strokes in two nodes"),
}


@pytest.mark.parametrize("case", list(BAD_STROKES))
@pytest.mark.parametrize("rerun", [False, True])
def test_bad_strokes_give_one_line_and_change_nothing(series, case, rerun):
    study = Study(series)
    make, expected = BAD_STROKES[case]
    make(study)
    before = study.env.snapshot()
    targets = [v for v in (study.volumes["t2w"], study.volumes["dwi"]) if study.scene.GetNodeByID(v.GetID()) is v]
    with pytest.raises(InputError, match=expected) as raised:
        if rerun:
            study.logic.rerunSeries(study.volumes["t2w"], study.volumes["t1w"], study.scribbles, targets)
        else:
            study.logic.run(study.volumes["t1w"], study.scribbles, targets)
    assert "\n" not in str(raised.value) and len(str(raised.value)) < 300
    assert study.env.snapshot() == before
    assert study.logic.outputNodes() == []


# ----------------------------------------------------------------------------- the CLI's --only
def test_cli_only_rewrites_just_that_series(series, tmp_path, capsys):
    from CrossMRLib.cli import main
    from CrossMRLib.io import read_series, write_labels_nifti, write_series_nifti

    for image, _ in series.values():
        write_series_nifti(image, tmp_path / f"{image.name}.nii.gz")
    scribbles = Study(series).scribble_labels
    write_labels_nifti(scribbles, series["t1w"][0], tmp_path / "scribbles.nii.gz")
    base = ["segment", str(tmp_path / "t1w.nii.gz"), str(tmp_path / "scribbles.nii.gz"),
            str(tmp_path / "t2w.nii.gz"), str(tmp_path / "dwi.nii.gz"), "--method", "region-growing"]
    with pytest.raises(SystemExit):
        main(["segment", "--help"])
    assert "--only SERIES" in capsys.readouterr().out
    assert main([*base, "-o", str(tmp_path / "all")]) == 0
    assert main([*base, "-o", str(tmp_path / "one"), "--only", "t2w"]) == 0
    written = sorted(p.name for p in (tmp_path / "one").glob("*.labels.nii.gz"))
    assert written == ["t2w.labels.nii.gz"]
    assert np.array_equal(read_series(tmp_path / "one" / "t2w.labels.nii.gz").array,
                          read_series(tmp_path / "all" / "t2w.labels.nii.gz").array)
    capsys.readouterr()
    assert main([*base, "-o", str(tmp_path / "bad"), "--only", "adc"]) == 2
    errors = [line for line in capsys.readouterr().err.splitlines() if "error" in line]
    assert len(errors) == 1 and errors[0].startswith("error: ") and "'adc'" in errors[0], errors
