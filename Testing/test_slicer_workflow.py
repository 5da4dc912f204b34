"""CrossMRSegmentLogic workflow on a real MRML scene: re-run, cancel, failures, background process,
scribble creation, series selection, 4D DWI and user mistakes."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from slicer_scene import (  # noqa: E402  (skips the module when slicer-core is missing)
    CrossMRSegmentLogic,
    METHOD,
    ROOT,
    SERIES,
    Series,
    SlicerScene,
    _ijk_to_ras,
    _scribbled_scene,
    addSampleStudy,
    paint,
    segment_array,
    slicer,
)
from CrossMRLib.errors import Cancelled, InputError  # noqa: E402
from CrossMRLib.organs import ORGAN_BY_LABEL, organ_from_terminology  # noqa: E402


# ----------------------------------------------------------------------------- outputs of one run


def _user_segmentation(env, volume, name: str):
    """A segmentation the user made (not CrossMR's), with one painted segment."""
    node = env.scene.AddNewNodeByClass("vtkMRMLSegmentationNode", name)
    node.CreateDefaultDisplayNodes()
    node.SetReferenceImageGeometryParameterFromVolumeNode(volume)
    node.GetSegmentation().AddEmptySegment("mine", "mine", [0.1, 0.9, 0.1])
    mask = np.zeros(tuple(reversed(volume.GetImageData().GetDimensions())), bool)
    mask[mask.shape[0] // 2, 10:20, 10:20] = True
    paint(node, "mine", mask, volume)
    return node


def test_rerun_replaces_only_crossmr_nodes_and_never_touches_user_nodes(study):
    env, logic, volumes, _, scribbles = _scribbled_scene(study)
    first = logic.run(volumes["t1w"], scribbles, [volumes["t2w"], volumes["dwi"]])
    # the user's own nodes, one of them even named like a CrossMR output
    mine = _user_segmentation(env, volumes["t2w"], "my liver")
    lookalike = _user_segmentation(env, volumes["t2w"], "t2w CrossMR")
    before = {n.GetID(): (n.GetMTime(), segment_array(n, "mine", volumes["t2w"]).sum()) for n in (mine, lookalike)}
    scribbles_mtime = scribbles.GetMTime()

    second = logic.run(volumes["t1w"], scribbles, [volumes["t2w"]])

    for volume_id in (volumes["t1w"].GetID(), volumes["t2w"].GetID()):
        assert second[volume_id] is not first[volume_id]
        assert env.scene.GetNodeByID(first[volume_id].GetID()) is None  # replaced
        assert env.scene.GetNodeByID(second[volume_id].GetID()) is second[volume_id]
    kept = first[volumes["dwi"].GetID()]  # not part of the re-run: its earlier output stays
    assert env.scene.GetNodeByID(kept.GetID()) is kept
    for node in (mine, lookalike):
        assert env.scene.GetNodeByID(node.GetID()) is node
        assert (node.GetMTime(), segment_array(node, "mine", volumes["t2w"]).sum()) == before[node.GetID()]
        assert node.GetSegmentation().GetNumberOfSegments() == 1
    assert scribbles.GetMTime() == scribbles_mtime and env.scene.GetNodeByID(scribbles.GetID()) is scribbles
    assert sorted(n.GetName() for n in logic.outputNodes()) == ["dwi CrossMR", "t1w CrossMR", "t2w CrossMR"]
    assert [n.GetID() for n in logic.outputNodes(volumes["t2w"])] == [second[volumes["t2w"].GetID()].GetID()]
    # replaced outputs leave no display nodes behind
    assert (env.scene.GetNumberOfNodesByClass("vtkMRMLSegmentationDisplayNode")
            == env.scene.GetNumberOfNodesByClass("vtkMRMLSegmentationNode"))


def test_cancel_mid_run_leaves_the_scene_as_it_was(study):
    env, logic, volumes, _, scribbles = _scribbled_scene(study)
    earlier = logic.run(volumes["t1w"], scribbles, [volumes["t2w"]])
    before = env.snapshot()
    seen = []

    def progress(fraction, message):
        seen.append(fraction)

    with pytest.raises(Cancelled):
        logic.run(volumes["t1w"], scribbles, [volumes[n] for n in SERIES[1:]], progress=progress,
                  cancel=lambda: len(seen) >= 2)  # after the reference, while the first target is done
    assert 0 < max(seen) < 1.0
    assert env.snapshot() == before
    for node in earlier.values():
        assert env.scene.GetNodeByID(node.GetID()) is node


def test_a_failure_while_writing_leaves_the_scene_as_it_was(study, monkeypatch):
    import CrossMRSegmentLib.outputs as outputs_module

    env, logic, volumes, _, scribbles = _scribbled_scene(study)
    earlier = logic.run(volumes["t1w"], scribbles, [volumes["t2w"]])
    before = env.snapshot()
    written = []
    real = outputs_module.writeOrganSegments

    def fail_on_third(node, labels, volume, organ_labels):
        written.append(volume.GetName())
        if len(written) == 3:
            raise RuntimeError("disk full")
        real(node, labels, volume, organ_labels)

    monkeypatch.setattr(outputs_module, "writeOrganSegments", fail_on_third)
    with pytest.raises(RuntimeError, match="disk full"):
        logic.run(volumes["t1w"], scribbles, [volumes["t2w"], volumes["dwi"]])
    assert written == ["t1w", "t2w", "dwi"]
    assert env.snapshot() == before
    assert sorted(n.GetID() for n in logic.outputNodes()) == sorted(n.GetID() for n in earlier.values())


def test_background_process_gives_the_same_labels_and_can_be_cancelled(study):
    """The GUI's background runner (engine CLI in a child process) on the same prepared study."""
    from CrossMRSegmentLib.process import SegmentationProcess

    env, logic, volumes, _, scribbles = _scribbled_scene(study)
    prepared = logic.prepare(volumes["t1w"], scribbles, [volumes["dwi"]])
    fractions = []
    labels = SegmentationProcess(prepared, METHOD, python=sys.executable).runBlocking(
        lambda f, m: fractions.append(f))
    direct = logic.compute(prepared)
    assert set(labels) == set(direct) == {volumes["t1w"].GetID(), volumes["dwi"].GetID()}
    assert all(np.array_equal(labels[k], direct[k]) for k in labels)
    assert fractions and fractions[-1] == 1.0
    before = env.snapshot()
    with pytest.raises(Cancelled):
        SegmentationProcess(prepared, METHOD, python=sys.executable).runBlocking(cancel=lambda: True)
    assert env.snapshot() == before


def test_device_option_reaches_the_model_in_both_runners(study):
    """The Advanced "Device" choice reaches the engine in Slicer's process and in the background process alike;
    both give the same labels on the CPU, and asking for a GPU the machine lacks is a one-line error."""
    import torch

    from CrossMRSegmentLib.process import SegmentationProcess

    env, logic, volumes, _, scribbles = _scribbled_scene(study)
    prepared = logic.prepare(volumes["t1w"], scribbles, [volumes["dwi"]])
    logic.method, logic.device = "auto", "cpu"
    for device, flag in (("auto", None), ("cpu", "cpu"), ("cuda", "cuda")):
        probe = SegmentationProcess(prepared, "auto", python=sys.executable, device=device)
        command = probe.command()
        assert (command[command.index("--device") + 1] if "--device" in command else None) == flag
        probe.cleanup()
    labels = SegmentationProcess(prepared, "auto", python=sys.executable, device="cpu").runBlocking()
    direct = logic.compute(prepared)
    assert all(np.array_equal(labels[k], direct[k]) for k in direct)
    if not torch.cuda.is_available():
        logic.device = "cuda"
        with pytest.raises(InputError, match="no CUDA GPU"):
            logic.compute(prepared)


def test_in_and_opposed_phase_get_the_same_masks_unless_untick_in_both_runners(study):
    """"Same-grid series together" (on by default) gives the two echoes of one acquisition the same masks;
    unticked, each is segmented on its own, in Slicer's process and in the background process alike."""
    from CrossMRSegmentLib.process import SegmentationProcess

    env, logic, volumes, _, scribbles = _scribbled_scene(study)
    prepared = logic.prepare(volumes["t1w"], scribbles, [volumes["inphase"], volumes["opposed"]])
    inphase, opposed = volumes["inphase"].GetID(), volumes["opposed"].GetID()
    logic.method = "auto"
    assert logic.joint
    together = logic.compute(prepared)
    assert np.array_equal(together[inphase], together[opposed]) and together[inphase].any()
    logic.joint = False
    apart = logic.compute(prepared)
    assert not np.array_equal(apart[inphase], apart[opposed])
    for joint in (True, False):
        probe = SegmentationProcess(prepared, "auto", python=sys.executable, joint=joint)
        assert ("--separate-series" in probe.command()) != joint
        probe.cleanup()
    background = SegmentationProcess(prepared, "auto", python=sys.executable, joint=False).runBlocking()
    assert all(np.array_equal(background[k], apart[k]) for k in apart)


# ----------------------------------------------------------------------------- helpers the GUI relies on
def test_create_scribble_segmentation_is_ready_to_paint(study):
    env = SlicerScene()
    volumes, study_item = addSampleStudy(env.scene, study)
    logic = CrossMRSegmentLogic(env.scene)
    node = logic.createScribbleSegmentation(volumes["t1w"])
    segmentation = node.GetSegmentation()
    assert [segmentation.GetNthSegment(i).GetName() for i in range(4)] == [o.name for o in ORGAN_BY_LABEL.values()]
    for index, organ in enumerate(ORGAN_BY_LABEL.values()):
        segment = segmentation.GetNthSegment(index)
        assert np.allclose(segment.GetColor(), organ.color_float)
        assert organ_from_terminology(segment.GetTerminology()) is organ
    assert node.GetNodeReference(node.GetReferenceImageGeometryReferenceRole()) is volumes["t1w"]
    assert env.sh.GetItemParent(env.sh.GetItemByDataNode(node)) == study_item
    assert node.GetAttribute("CrossMR.Output") is None  # scribbles are the user's, never replaced


def test_default_reference_is_the_t1w_looking_series(study):
    env = SlicerScene()
    volumes, _ = addSampleStudy(env.scene, study)
    logic = CrossMRSegmentLogic(env.scene)
    shuffled = [volumes[n] for n in ("dwi", "opposed", "t2w", "inphase", "t1w")]
    assert logic.defaultReferenceVolume(shuffled) is volumes["t1w"]
    assert logic.defaultReferenceVolume() is volumes["t1w"]
    renamed = {"T2 HASTE cor": "t2w", "ep2d_diff b800": "dwi", "VIBE pre-contrast": "t1w", "Dixon opp": "opposed"}
    for new, old in renamed.items():
        volumes[old].SetName(new)
    assert logic.defaultReferenceVolume([volumes[n] for n in ("t2w", "dwi", "opposed", "t1w")]) is volumes["t1w"]
    assert logic.defaultReferenceVolume([volumes["t2w"], volumes["opposed"]]) is volumes["opposed"]


def test_candidate_targets_are_the_other_series_of_the_study(study):
    env = SlicerScene()
    volumes, _ = addSampleStudy(env.scene, study)
    other_patient = env.sh.CreateSubjectItem(env.sh.GetSceneItemID(), "someone else")
    env.add_volume(study.images["t2w"], env.sh.CreateStudyItem(other_patient, "other study"))
    labelmap = env.scene.AddNewNodeByClass("vtkMRMLLabelMapVolumeNode", "labels")
    env.sh.CreateItem(env.sh.GetItemParent(env.sh.GetItemByDataNode(volumes["t1w"])), labelmap)
    logic = CrossMRSegmentLogic(env.scene)
    assert logic.candidateTargets(volumes["t1w"]) == [volumes[n] for n in SERIES[1:]]


def _dwi_sequence(env, study, parent_item):
    """A 4D DWI (b = 0, 400, 800) as a sequence with its proxy volume in the study."""
    sequence = env.scene.AddNewNodeByClass("vtkMRMLSequenceNode", "dwi 4D")
    sequence.SetIndexName("DiffusionBValue")
    sequence.SetIndexUnit("s/mm2")
    for scale, b in ((1.0, 0), (0.6, 400), (0.3, 800)):
        frame = slicer.vtkMRMLScalarVolumeNode()
        frame.SetIJKToRASMatrix(slicer.util.vtkMatrixFromArray(study.images["dwi"].ijk_to_ras))
        slicer.util.updateVolumeFromArray(frame, (study.images["dwi"].array * scale).astype(np.float32))
        sequence.SetDataNodeAtValue(frame, str(b))
    browser = env.scene.AddNewNodeByClass("vtkMRMLSequenceBrowserNode", "dwi 4D browser")
    browser.SetAndObserveMasterSequenceNodeID(sequence.GetID())
    env.logics["Sequences"].UpdateProxyNodesFromSequences(browser)
    proxy = browser.GetProxyNode(sequence)
    env.sh.CreateItem(parent_item, proxy)
    return proxy


def test_4d_dwi_is_refused_as_is_and_resolved_to_its_highest_b_value(study):
    env, logic, volumes, study_item, scribbles = _scribbled_scene(study)
    proxy = _dwi_sequence(env, study, study_item)
    assert proxy in logic.candidateTargets(volumes["t1w"]) and logic.volumeCount(proxy) == 3
    before = env.snapshot()
    with pytest.raises(InputError, match="4D series \\(3 volumes\\)"):
        logic.run(volumes["t1w"], scribbles, [proxy])
    assert env.snapshot() == before
    resolved, created = logic.resolveTarget(proxy)
    assert created and resolved.GetName() == "dwi 4D b=800"
    assert np.allclose(slicer.util.arrayFromVolume(resolved), study.images["dwi"].array * 0.3)
    assert np.allclose(_ijk_to_ras(resolved), study.images["dwi"].ijk_to_ras)
    assert env.sh.GetItemParent(env.sh.GetItemByDataNode(resolved)) == study_item
    assert logic.resolveTarget(proxy) == (resolved, False)  # made once, reused
    assert logic.resolveTarget(volumes["t2w"]) == (volumes["t2w"], False)
    assert resolved not in logic.candidateTargets(volumes["t1w"])
    sequence = env.scene.GetFirstNodeByClass("vtkMRMLSequenceNode")
    sequence.SetIndexName("time")  # a dynamic series: no b-value to choose by
    sequence.SetIndexUnit("s")
    with pytest.raises(InputError, match="not a diffusion series"):
        logic.resolveTarget(proxy)


# ----------------------------------------------------------------------------- user mistakes
def _single_slice(env, study):
    series = study.images["t1w"]
    return env.add_volume(Series(series.array[:1].copy(), series.ijk_to_ras, "one slice"))


def _scribbles_on_t2w(env, logic, volumes, study):
    node = logic.createScribbleSegmentation(volumes["t2w"])
    labels = study.labels["t2w"].array
    paint(node, "liver", labels == 1, volumes["t2w"])
    return node


def _unnamed_segments(env, logic, volumes, study):
    node = env.scene.AddNewNodeByClass("vtkMRMLSegmentationNode", "strokes")
    node.SetReferenceImageGeometryParameterFromVolumeNode(volumes["t1w"])
    node.GetSegmentation().AddEmptySegment("Segment_1", "Segment_1", [1, 0, 0])
    paint(node, "Segment_1", study.labels["t1w"].array == 1, volumes["t1w"])
    return node


MISTAKES = {
    "no reference": (lambda env, logic, v, s, scr: (None, scr, [v["t2w"]]), "no reference volume selected"),
    "no targets": (lambda env, logic, v, s, scr: (v["t1w"], scr, []), "no target series selected"),
    "empty scribbles": (lambda env, logic, v, s, scr: (v["t1w"], logic.createScribbleSegmentation(v["t1w"]),
                                                       [v["t2w"]]), "scribbles .* are empty"),
    "no scribble node": (lambda env, logic, v, s, scr: (v["t1w"], None, [v["t2w"]]), "no scribble segmentation"),
    "scribbles on another geometry": (lambda env, logic, v, s, scr: (v["t1w"], _scribbles_on_t2w(env, logic, v, s),
                                                                     [v["dwi"]]), "painted on another geometry"),
    "segments named after no organ": (lambda env, logic, v, s, scr: (v["t1w"], _unnamed_segments(env, logic, v, s),
                                                                      [v["t2w"]]), "no scribble segment is an organ"),
    "2D reference": (lambda env, logic, v, s, scr: (_single_slice(env, s), scr, [v["t2w"]]), "is 2D"),
    "2D target": (lambda env, logic, v, s, scr: (v["t1w"], scr, [_single_slice(env, s)]), "is 2D"),
    "labelmap target": (lambda env, logic, v, s, scr: (
        v["t1w"], scr, [env.scene.AddNewNodeByClass("vtkMRMLLabelMapVolumeNode", "labels")]), "is a labelmap"),
    "reference as target": (lambda env, logic, v, s, scr: (v["t1w"], scr, [v["t1w"]]), "is the reference"),
}


@pytest.mark.parametrize("mistake", list(MISTAKES))
def test_user_mistakes_give_one_clear_line_and_change_nothing(study, mistake):
    env, logic, volumes, _, scribbles = _scribbled_scene(study)
    make, expected = MISTAKES[mistake]
    reference, scribble_node, targets = make(env, logic, volumes, study, scribbles)
    before = env.snapshot()
    with pytest.raises(InputError, match=expected) as raised:
        logic.run(reference, scribble_node, targets)
    assert "\n" not in str(raised.value) and len(str(raised.value)) < 300
    assert env.snapshot() == before
    assert logic.outputNodes() == []


def test_module_logic_imports_without_torch_or_the_engine_pipeline():
    """The Slicer module must load before its dependencies are installed."""
    import subprocess

    code = ("import sys; sys.path.insert(0, sys.argv[1]); import CrossMRSegmentLib; "
            "bad = [m for m in ('torch', 'monai', 'CrossMRLib.pipeline', 'qt') if m in sys.modules]; "
            "print(', '.join(bad)); sys.exit(1 if bad else 0)")
    result = subprocess.run([sys.executable, "-c", code, str(ROOT / "CrossMRSegment")], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    source = (ROOT / "CrossMRSegment" / "CrossMRSegment.py").read_text()
    compile(source, "CrossMRSegment.py", "exec")
    top_level = [line for line in source.splitlines() if line.startswith(("import ", "from "))]
    assert not [line for line in top_level if "torch" in line or "CrossMRLib" in line]
