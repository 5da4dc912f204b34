"""CrossMRSegmentLogic: scribbles on a reference volume -> one organ segmentation per series (Qt-free).

The run has three steps so that the GUI can do the middle one in a background process:
`prepare` (checks + MRML -> engine series, no scene change), `compute` (the engine), `writeResults`
(the only step that touches the scene, all or nothing).

Corrections: strokes painted in a series' "<series> CrossMR strokes" node (`correctionStrokesNode`) go to the
engine with every run; `only` re-segments just those series and rewrites only their "<series> CrossMR" nodes.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

log = logging.getLogger("CrossMR")

ProgressCallback = Callable[[float, str], None]
CancelCallback = Callable[[], bool]


@dataclass
class PreparedStudy:
    """Everything the engine needs, taken out of the scene."""

    referenceVolume: object
    targetVolumes: list
    scribbleSegmentation: object
    reference: object  # CrossMRLib.series.Series
    targets: list  # list[Series]
    scribbles: np.ndarray
    organLabels: list[int]
    warnings: list[str] = field(default_factory=list)
    strokes: dict = field(default_factory=dict)  # {series name: uint8 strokes on its grid (1..4, 255 erase)}
    strokesNodes: list = field(default_factory=list)  # the strokes nodes read
    only: list | None = None  # series names to re-segment (None: all)

    @property
    def volumes(self) -> list:
        """Reference first, then the targets."""
        return [self.referenceVolume, *self.targetVolumes]

    @property
    def series(self) -> list:
        return [self.reference, *self.targets]

    @property
    def outputVolumes(self) -> list:
        """The volumes whose results this run writes: those in `only`, else all."""
        if self.only is None:
            return self.volumes
        return [node for node, series in zip(self.volumes, self.series) if series.name in self.only]


class CrossMRSegmentLogic:
    """Segment liver, kidneys and spleen on every series of a study from scribbles on one reference.

    `method` ("auto" = the CrossMR model, "region-growing" = classical), `weights` (None = shipped model)
    `threads` (None = all cores), `device` (auto, cpu or cuda) and `joint` (series on one grid segmented
    together) are passed to the engine.
    """

    def __init__(self, scene=None) -> None:
        self._scene = scene
        self.method: str = "auto"
        self.weights: str | Path | None = None
        self.threads: int | None = None
        self.device: str = "auto"
        self.joint: bool = True
        self.lastWarnings: list[str] = []
        self.lastVolumes: list[dict] = []  # organ volume table of the last run (see volumes.volumeRows)

    @property
    def scene(self):
        """The MRML scene this logic works on (`slicer.mrmlScene` unless one was given)."""
        if self._scene is not None:
            return self._scene
        import slicer

        return slicer.mrmlScene

    # ---------------------------------------------------------------- main entry point
    def run(self, referenceVolume, scribbleSegmentation, targetVolumes, progress: ProgressCallback | None = None,
            cancel: CancelCallback | None = None, only: list | None = None) -> dict:
        """Segment the reference and every target (or just the volumes in `only`), with the strokes painted on
        any of them; returns {volumeNodeID: output segmentation node} of the series written.

        User mistakes raise `CrossMRLib.errors.InputError`; a cancel raises `CrossMRLib.errors.Cancelled`.
        Nothing in the scene changes unless the whole run succeeds.
        """
        prepared = self.prepare(referenceVolume, scribbleSegmentation, targetVolumes, only)
        labels = self.compute(prepared, progress, cancel)
        if cancel is not None and cancel():
            from CrossMRLib.errors import Cancelled

            raise Cancelled()
        return self.writeResults(prepared, labels)

    def rerunSeries(self, volumeNode, referenceVolume, scribbleSegmentation, targetVolumes,
                    progress: ProgressCallback | None = None, cancel: CancelCallback | None = None) -> dict:
        """Re-segment one series with the strokes painted so far and replace only its "<series> CrossMR" node."""
        return self.run(referenceVolume, scribbleSegmentation, targetVolumes, progress, cancel, only=[volumeNode])

    def prepare(self, referenceVolume, scribbleSegmentation, targetVolumes, only: list | None = None) -> PreparedStudy:
        """Check the inputs and take them out of the scene as engine series (the scene is not modified).

        `only`: volumes to re-segment (a volume that is neither the reference nor a target is added as a target).
        """
        from CrossMRLib.errors import InputError

        from .nodes import checkVolume, nodeLabel, volumeToSeries
        from .segments import scribbleLabelmap
        from .strokes import gatherStrokes

        scene = self.scene
        checkVolume(referenceVolume, "reference", scene)
        targetVolumes = [node for node in (targetVolumes or []) if node is not None]
        if only is not None:
            only = [node for node in only if node is not None]
            if not only:
                raise InputError("no series to re-run; choose the series to re-segment")
            targetVolumes += [n for n in only if n is not referenceVolume and all(n is not t for t in targetVolumes)]
        if not targetVolumes:
            raise InputError("no target series selected; tick at least one other series of the study to segment")
        ids = [referenceVolume.GetID()]
        for node in targetVolumes:
            if node.GetID() in ids:
                what = "the reference" if node is referenceVolume else "twice"
                raise InputError(f"target {nodeLabel(node)} is {what}; select each other series once")
            ids.append(node.GetID())
            checkVolume(node, "target", scene)
        scribbles, warnings = scribbleLabelmap(scribbleSegmentation, referenceVolume)
        names = _uniqueNames([referenceVolume, *targetVolumes])
        reference = volumeToSeries(referenceVolume, names[0], scene)
        targets = [volumeToSeries(node, name, scene) for node, name in zip(targetVolumes, names[1:])]
        byName = {series.name: node for series, node in zip([reference, *targets], [referenceVolume, *targetVolumes])}
        strokes, strokesNodes, strokeWarnings = gatherStrokes(scene, byName, [referenceVolume,
                                                                             *self.candidateTargets(referenceVolume)])
        warnings += strokeWarnings
        onReference = strokes.get(reference.name)  # organ strokes on the reference count as scribbles
        organs = np.unique(scribbles) if onReference is None else np.union1d(np.unique(scribbles),
                                                                              np.unique(onReference))
        organLabels = sorted(int(v) for v in organs if 0 < v < 255)
        names = None if only is None else [name for name, node in byName.items() if any(node is n for n in only)]
        for message in warnings:
            log.warning(message)
        return PreparedStudy(referenceVolume, targetVolumes, scribbleSegmentation, reference, targets, scribbles,
                             organLabels, warnings, strokes, strokesNodes, names)

    def compute(self, prepared: PreparedStudy, progress: ProgressCallback | None = None,
                cancel: CancelCallback | None = None) -> dict:
        """Run the engine in this process; returns {volumeNodeID: uint8 labels in that volume's grid}."""
        from CrossMRLib.pipeline import segment_study

        result = segment_study(prepared.reference, prepared.scribbles, prepared.targets, method=self.method,
                               weights=self.weights, threads=self.threads, progress=progress, cancel=cancel,
                               joint=self.joint, device=self.device, strokes=prepared.strokes, only=prepared.only)
        self.lastWarnings = [*prepared.warnings, *result.warnings]
        byName = {series.name: node for series, node in zip(prepared.series, prepared.volumes)}
        return {byName[name].GetID(): labels for name, labels in result.labels.items()}

    def writeResults(self, prepared: PreparedStudy, labelsByVolumeID: dict) -> dict:
        """Create the output segmentations of the series run (replacing their earlier CrossMR outputs only);
        {volumeNodeID: node}. With `only`, every other node stays as it is."""
        from CrossMRLib.errors import InputError

        from .outputs import currentLabels, replaceOutputs, showSeries
        from .volumes import volumeRows, volumeWarnings

        for node in prepared.volumes:
            if node.GetScene() is not self.scene or self.scene.GetNodeByID(node.GetID()) is not node:
                raise InputError(f"series '{node.GetName()}' was removed while CrossMR was running; run again")
        pairs, written = [], {node.GetID() for node in prepared.outputVolumes}
        for node, series in zip(prepared.volumes, prepared.series):
            if node.GetID() not in written:
                continue
            labels = labelsByVolumeID.get(node.GetID())
            if labels is None or tuple(labels.shape) != series.shape:
                raise RuntimeError(f"the engine returned no labels of the right shape for '{node.GetName()}'")
            pairs.append((node, np.asarray(labels, dtype=np.uint8)))
        kept = [node for node in prepared.volumes if node.GetID() in labelsByVolumeID and node.GetID() not in written]
        notes = [f"'{node.GetName()}' shares its series' grid and was segmented with it; its result was kept (re-run "
                 f"'{node.GetName()}' to update it)" for node in kept]
        tableLabels = {node.GetID(): labels for node, labels in pairs}  # read before the scene changes
        if prepared.only is not None:  # the other series' results as they are now (the user's edits included)
            for node in prepared.volumes:
                if node.GetID() not in written:
                    current = currentLabels(self.scene, node)
                    if current is not None:
                        tableLabels[node.GetID()] = current
        volumes = volumeRows(prepared, tableLabels)
        created = replaceOutputs(self.scene, pairs, prepared.organLabels, prepared.referenceVolume, self.method,
                                 keep=prepared.scribbleSegmentation)
        showSeries(self.scene, pairs[0][0] if prepared.only is not None else prepared.referenceVolume)
        self.lastVolumes = volumes
        self.lastWarnings = [*self.lastWarnings, *notes, *volumeWarnings(volumes)]
        return created

    # ---------------------------------------------------------------- helpers for the GUI and scripts
    def createScribbleSegmentation(self, referenceVolume):
        """A new segmentation on the reference with the four organ segments named, coloured and coded."""
        from CrossMRLib.organs import ORGANS

        from .nodes import checkVolume
        from .outputs import createScribbleNode

        checkVolume(referenceVolume, "reference", self.scene)
        return createScribbleNode(self.scene, referenceVolume, ORGANS)

    def correctionStrokesNode(self, volumeNode):
        """The series' "<series> CrossMR strokes" segmentation (created on first use): paint organ segments where
        an organ was missed and "background" where the result is wrong, with the series as source volume."""
        from .nodes import checkVolume
        from .strokes import createStrokesNode, strokesNodeOf

        checkVolume(volumeNode, "series", self.scene)
        return strokesNodeOf(self.scene, volumeNode) or createStrokesNode(self.scene, volumeNode)

    def seriesWithStrokes(self) -> list:
        """The volumes that have painted correction strokes, in scene order."""
        from .strokes import hasStrokes, strokesNodes, strokesVolumeOf

        found = []
        for node in strokesNodes(self.scene):
            volume = strokesVolumeOf(node)
            if volume is not None and all(volume is not f for f in found) and hasStrokes(node):
                found.append(volume)
        return found

    def defaultReferenceVolume(self, volumes=None):
        """The T1w-looking volume (by name or DICOM tags) among `volumes` (default: all MRI volumes)."""
        from .selection import defaultReferenceVolume, scalarVolumes

        return defaultReferenceVolume(list(volumes) if volumes is not None else scalarVolumes(self.scene))

    def candidateTargets(self, referenceVolume) -> list:
        """The other MRI volumes of the reference's study (4D ones included; see `resolveTarget`)."""
        from .selection import candidateTargets

        return candidateTargets(referenceVolume, self.scene)

    def volumeCount(self, volumeNode) -> int:
        """1 for a 3D volume, the number of volumes for a 4D series."""
        from .nodes import volumeCount

        return volumeCount(volumeNode, self.scene)

    def resolveTarget(self, volumeNode):
        """A 3D volume to segment for a target: itself, or the highest b-value volume of a 4D DWI.

        Returns (volumeNode, created) where `created` tells whether a new volume node was added.
        """
        from .selection import highestBValueVolume

        if self.volumeCount(volumeNode) <= 1:
            return volumeNode, False
        return highestBValueVolume(volumeNode, self.scene)

    def outputNodes(self, volumeNode=None) -> list:
        """CrossMR output segmentations (of one series when `volumeNode` is given)."""
        from .outputs import outputNodes

        return outputNodes(self.scene, volumeNode)

    def showSeries(self, volumeNode) -> None:
        """Show a series in the slice views with its CrossMR segmentation only."""
        from .outputs import showSeries

        showSeries(self.scene, volumeNode)


def _uniqueNames(volumes: list) -> list[str]:
    """Series names for the engine: node names, made unique with the node ID where names repeat."""
    names = [node.GetName() or node.GetID() for node in volumes]
    return [name if names.count(name) == 1 else f"{name} ({node.GetID()})" for name, node in zip(names, volumes)]
