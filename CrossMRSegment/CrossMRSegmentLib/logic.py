"""CrossMRSegmentLogic: scribbles on a reference volume -> one organ segmentation per series (Qt-free).

The run has three steps so that the GUI can do the middle one in a background process:
`prepare` (checks + MRML -> engine series, no scene change), `compute` (the engine), `writeResults`
(the only step that touches the scene, all or nothing).
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

    @property
    def volumes(self) -> list:
        """Reference first, then the targets."""
        return [self.referenceVolume, *self.targetVolumes]

    @property
    def series(self) -> list:
        return [self.reference, *self.targets]


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
            cancel: CancelCallback | None = None) -> dict:
        """Segment the reference and every target; returns {volumeNodeID: output segmentation node}.

        User mistakes raise `CrossMRLib.errors.InputError`; a cancel raises `CrossMRLib.errors.Cancelled`.
        Nothing in the scene changes unless the whole run succeeds.
        """
        prepared = self.prepare(referenceVolume, scribbleSegmentation, targetVolumes)
        labels = self.compute(prepared, progress, cancel)
        if cancel is not None and cancel():
            from CrossMRLib.errors import Cancelled

            raise Cancelled()
        return self.writeResults(prepared, labels)

    def prepare(self, referenceVolume, scribbleSegmentation, targetVolumes) -> PreparedStudy:
        """Check the inputs and take them out of the scene as engine series (the scene is not modified)."""
        from CrossMRLib.errors import InputError

        from .nodes import checkVolume, nodeLabel, volumeToSeries
        from .segments import scribbleLabelmap

        scene = self.scene
        checkVolume(referenceVolume, "reference", scene)
        targetVolumes = [node for node in (targetVolumes or []) if node is not None]
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
        organLabels = sorted(int(v) for v in np.unique(scribbles) if v)
        for message in warnings:
            log.warning(message)
        return PreparedStudy(referenceVolume, targetVolumes, scribbleSegmentation, reference, targets, scribbles,
                             organLabels, warnings)

    def compute(self, prepared: PreparedStudy, progress: ProgressCallback | None = None,
                cancel: CancelCallback | None = None) -> dict:
        """Run the engine in this process; returns {volumeNodeID: uint8 labels in that volume's grid}."""
        from CrossMRLib.pipeline import segment_study

        result = segment_study(prepared.reference, prepared.scribbles, prepared.targets, method=self.method,
                               weights=self.weights, threads=self.threads, progress=progress, cancel=cancel,
                               joint=self.joint, device=self.device)
        self.lastWarnings = [*prepared.warnings, *result.warnings]
        byName = {series.name: node for series, node in zip(prepared.series, prepared.volumes)}
        return {byName[name].GetID(): labels for name, labels in result.labels.items()}

    def writeResults(self, prepared: PreparedStudy, labelsByVolumeID: dict) -> dict:
        """Create the output segmentations (replacing earlier CrossMR outputs); {volumeNodeID: node}."""
        from CrossMRLib.errors import InputError

        from .outputs import replaceOutputs, showSeries
        from .volumes import volumeRows, volumeWarnings

        for node in prepared.volumes:
            if node.GetScene() is not self.scene or self.scene.GetNodeByID(node.GetID()) is not node:
                raise InputError(f"series '{node.GetName()}' was removed while CrossMR was running; run again")
        pairs = []
        for node, series in zip(prepared.volumes, prepared.series):
            labels = labelsByVolumeID.get(node.GetID())
            if labels is None or tuple(labels.shape) != series.shape:
                raise RuntimeError(f"the engine returned no labels of the right shape for '{node.GetName()}'")
            pairs.append((node, np.asarray(labels, dtype=np.uint8)))
        volumes = volumeRows(prepared, {node.GetID(): labels for node, labels in pairs})  # before the scene changes
        created = replaceOutputs(self.scene, pairs, prepared.organLabels, prepared.referenceVolume, self.method,
                                 keep=prepared.scribbleSegmentation)
        showSeries(self.scene, prepared.referenceVolume)
        self.lastVolumes = volumes
        self.lastWarnings = [*self.lastWarnings, *volumeWarnings(volumes)]
        return created

    # ---------------------------------------------------------------- helpers for the GUI and scripts
    def createScribbleSegmentation(self, referenceVolume):
        """A new segmentation on the reference with the four organ segments named, coloured and coded."""
        from CrossMRLib.organs import ORGANS

        from .nodes import checkVolume
        from .outputs import createScribbleNode

        checkVolume(referenceVolume, "reference", self.scene)
        return createScribbleNode(self.scene, referenceVolume, ORGANS)

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
