"""CrossMR output segmentation nodes: create, find, replace and show them.

Every output is marked (attribute `CrossMR.Output` = "1", `CrossMR.SourceVolumeID` and a node reference
to the series), so a re-run replaces only nodes CrossMR created and never a user's segmentation.
"""

from __future__ import annotations

import numpy as np

from .segments import addOrganSegment, writeOrganSegments
from .selection import OUTPUT_ATTRIBUTE, placeInStudy

SOURCE_ATTRIBUTE = "CrossMR.SourceVolumeID"
REFERENCE_ATTRIBUTE = "CrossMR.ReferenceVolumeID"
METHOD_ATTRIBUTE = "CrossMR.Method"
SCRIBBLES_ATTRIBUTE = "CrossMR.Scribbles"
SOURCE_ROLE = "CrossMR.SourceVolume"
OUTPUT_SUFFIX = " CrossMR"


def outputName(volumeNode) -> str:
    """Name of the output segmentation of a series."""
    return f"{volumeNode.GetName()}{OUTPUT_SUFFIX}"


def isOutput(node) -> bool:
    return node is not None and node.GetAttribute(OUTPUT_ATTRIBUTE) == "1"


def sourceVolumeOf(segmentationNode):
    """The series an output segmentation belongs to (None if it is gone)."""
    node = segmentationNode.GetNodeReference(SOURCE_ROLE)
    if node is None and segmentationNode.GetScene() is not None:
        node = segmentationNode.GetScene().GetNodeByID(segmentationNode.GetAttribute(SOURCE_ATTRIBUTE) or "")
    return node


def outputNodes(scene, volumeNode=None) -> list:
    """CrossMR output segmentations in the scene (of one series when `volumeNode` is given)."""
    found = []
    nodes = scene.GetNodesByClass("vtkMRMLSegmentationNode")
    for index in range(nodes.GetNumberOfItems()):
        node = nodes.GetItemAsObject(index)
        if isOutput(node) and (volumeNode is None or sourceVolumeOf(node) is volumeNode):
            found.append(node)
    return found


def removeNode(scene, node) -> None:
    """Remove a node together with its display and storage nodes (MRML leaves those behind)."""
    for index in reversed(range(node.GetNumberOfDisplayNodes())):
        display = node.GetNthDisplayNode(index)
        if display is not None:
            scene.RemoveNode(display)
    storage = node.GetStorageNode()
    if storage is not None:
        scene.RemoveNode(storage)
    scene.RemoveNode(node)


def newSegmentationNode(scene, volumeNode, name: str):
    """A segmentation node in the scene whose reference geometry is `volumeNode` (same parent transform)."""
    node = scene.AddNewNodeByClass("vtkMRMLSegmentationNode", name)
    node.SetReferenceImageGeometryParameterFromVolumeNode(volumeNode)
    node.SetNodeReferenceID(node.GetReferenceImageGeometryReferenceRole(), volumeNode.GetID())
    node.SetAndObserveTransformNodeID(volumeNode.GetTransformNodeID())
    node.CreateDefaultDisplayNodes()
    placeInStudy(scene, node, volumeNode)
    return node


def createScribbleNode(scene, referenceVolume, organs) -> object:
    """A segmentation on the reference geometry holding one empty segment per organ, ready to paint."""
    node = newSegmentationNode(scene, referenceVolume, scene.GenerateUniqueName(f"{referenceVolume.GetName()} "
                                                                                "CrossMR scribbles"))
    node.SetAttribute(SCRIBBLES_ATTRIBUTE, "1")
    for organ in organs:
        addOrganSegment(node, organ)
    return node


def replaceOutputs(scene, labelsByVolume: list[tuple[object, np.ndarray]], organLabels: list[int],
                   referenceVolume, method: str, keep=None) -> dict:
    """Write one output segmentation per (volume, labels); then remove the series' earlier CrossMR outputs.
    Each output has a segment for every organ in `organLabels` (the scribbled ones) and every organ in its labels.

    All new nodes are created before anything old is removed; if writing fails the new nodes are removed
    again, so the scene is either fully updated or unchanged. `keep` (e.g. the scribble node) is never removed.
    """
    created: dict = {}
    scene.StartState(scene.BatchProcessState)
    try:
        try:
            for volumeNode, labels in labelsByVolume:
                node = newSegmentationNode(scene, volumeNode, outputName(volumeNode))
                created[volumeNode.GetID()] = node
                node.SetAttribute(OUTPUT_ATTRIBUTE, "1")
                node.SetAttribute(SOURCE_ATTRIBUTE, volumeNode.GetID())
                node.SetAttribute(REFERENCE_ATTRIBUTE, referenceVolume.GetID())
                node.SetAttribute(METHOD_ATTRIBUTE, method)
                node.SetNodeReferenceID(SOURCE_ROLE, volumeNode.GetID())
                present = {int(v) for v in np.unique(labels) if v}  # + organs stroked on this series only
                writeOrganSegments(node, labels, volumeNode, sorted(set(organLabels) | present))
        except Exception:
            for node in created.values():
                removeNode(scene, node)
            raise
        newNodes = set(created.values())
        for volumeNode, _ in labelsByVolume:
            for old in outputNodes(scene, volumeNode):
                if old not in newNodes and old is not keep:
                    removeNode(scene, old)
    finally:
        scene.EndState(scene.BatchProcessState)
    return created


def showSeries(scene, volumeNode) -> None:
    """Show `volumeNode` in every slice view with its CrossMR segmentation; hide the other CrossMR outputs."""
    composites = scene.GetNodesByClass("vtkMRMLSliceCompositeNode")
    for index in range(composites.GetNumberOfItems()):
        composites.GetItemAsObject(index).SetBackgroundVolumeID(volumeNode.GetID() if volumeNode else None)
    for node in outputNodes(scene):
        display = node.GetDisplayNode()
        if display is not None:
            display.SetVisibility(volumeNode is not None and sourceVolumeOf(node) is volumeNode)


def currentLabels(scene, volumeNode) -> np.ndarray | None:
    """The series' CrossMR result as it is now (user edits included) as organ labels on its grid; None if none."""
    from CrossMRLib.errors import InputError

    from .segments import OffGridError, SegmentGridReader, segmentOrgan

    nodes = outputNodes(scene, volumeNode)
    if not nodes:
        return None
    reader = SegmentGridReader(nodes[-1], volumeNode, "result")
    labels = np.zeros(reader.shape, dtype=np.uint8)
    segmentation = nodes[-1].GetSegmentation()
    for index in range(segmentation.GetNumberOfSegments()):
        organ = segmentOrgan(segmentation.GetNthSegment(index))
        if organ is None:
            continue
        try:
            mask, _outside = reader.mask(segmentation.GetNthSegmentID(index))
        except (OffGridError, InputError):  # a segment the user moved off the grid: left out of the table
            continue
        if mask is not None:
            labels[mask & (labels == 0)] = organ.label
    return labels
