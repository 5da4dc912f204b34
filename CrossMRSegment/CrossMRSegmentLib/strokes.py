"""Correction strokes: one "<series> CrossMR strokes" segmentation per series, read as the engine's labelmap.

A strokes node is on its series' own geometry and holds the four organ segments ("this is that organ") and a
"background" segment (erase: "no organ here"). It is marked (attribute `CrossMR.Strokes` and a node reference to
its series), never written by a run and never removed. Read, it becomes a uint8 (K, J, I) labelmap on the
series' grid: 1..4 the organs, `ERASE` (255) background; where segments overlap, the first segment wins (as
the engine reads a `.seg.nrrd`).
"""

from __future__ import annotations

import numpy as np

from CrossMRLib.errors import InputError

from .nodes import nodeLabel

STROKES_ATTRIBUTE = "CrossMR.Strokes"
STROKES_VOLUME_ATTRIBUTE = "CrossMR.StrokesVolumeID"
STROKES_ROLE = "CrossMR.StrokesVolume"
STROKES_SUFFIX = " CrossMR strokes"
ERASE_SEGMENT = "background"
ERASE_COLOR = (0.55, 0.55, 0.55)


def isStrokesNode(node) -> bool:
    return node is not None and node.IsA("vtkMRMLSegmentationNode") and node.GetAttribute(STROKES_ATTRIBUTE) == "1"


def strokesVolumeOf(strokesNode):
    """The series a strokes node belongs to (None when that volume is no longer in the scene)."""
    node = strokesNode.GetNodeReference(STROKES_ROLE)
    scene = strokesNode.GetScene()
    if node is None and scene is not None:
        node = scene.GetNodeByID(strokesNode.GetAttribute(STROKES_VOLUME_ATTRIBUTE) or "")
    return node


def strokesNodes(scene) -> list:
    """Every CrossMR strokes node in the scene, in scene order."""
    nodes = scene.GetNodesByClass("vtkMRMLSegmentationNode")
    found = [nodes.GetItemAsObject(index) for index in range(nodes.GetNumberOfItems())]
    return [node for node in found if isStrokesNode(node)]


def strokesNodeOf(scene, volumeNode):
    """The strokes node of a series (the first one when there are several), or None."""
    for node in strokesNodes(scene):
        if strokesVolumeOf(node) is volumeNode:
            return node
    return None


def createStrokesNode(scene, volumeNode):
    """A new "<series> CrossMR strokes" on the series' geometry: the four organ segments and "background"."""
    import slicer
    from CrossMRLib.organs import ORGANS

    from .outputs import newSegmentationNode
    from .segments import addOrganSegment

    node = newSegmentationNode(scene, volumeNode, scene.GenerateUniqueName(f"{volumeNode.GetName()}{STROKES_SUFFIX}"))
    node.SetAttribute(STROKES_ATTRIBUTE, "1")
    node.SetAttribute(STROKES_VOLUME_ATTRIBUTE, volumeNode.GetID())
    node.SetNodeReferenceID(STROKES_ROLE, volumeNode.GetID())
    for organ in ORGANS:
        addOrganSegment(node, organ)
    segment = slicer.vtkSegment()
    segment.SetName(ERASE_SEGMENT)
    segment.SetColor(*ERASE_COLOR)
    if not node.GetSegmentation().AddSegment(segment, ERASE_SEGMENT):
        raise RuntimeError(f"could not add segment '{ERASE_SEGMENT}' to {nodeLabel(node)}")
    return node


def strokeValue(segment) -> int | None:
    """The labelmap value a segment stands for: its organ's label, ERASE for background/erase, else None."""
    from CrossMRLib.corrections.strokes import ERASE, ERASE_NAMES

    from .segments import segmentOrgan

    organ = segmentOrgan(segment)
    if organ is not None:
        return organ.label
    return ERASE if (segment.GetName() or "").strip().lower() in ERASE_NAMES else None


def strokesLabelmap(strokesNode, volumeNode) -> np.ndarray:
    """The strokes as a uint8 (K, J, I) labelmap on `volumeNode`'s grid (all zero when nothing is painted).

    One-line InputError for a segment that is neither an organ nor background, or strokes painted on
    another geometry than the series'.
    """
    from .segments import OffGridError, SegmentGridReader

    reader = SegmentGridReader(strokesNode, volumeNode, "strokes")
    labels = np.zeros(reader.shape, dtype=np.uint8)
    segmentation = strokesNode.GetSegmentation()
    for index in range(segmentation.GetNumberOfSegments()):
        segmentId = segmentation.GetNthSegmentID(index)
        segment = segmentation.GetSegment(segmentId)
        value = strokeValue(segment)
        if value is None:
            raise InputError(f"segment '{segment.GetName()}' of the strokes {nodeLabel(strokesNode)} is neither an "
                             f"organ nor '{ERASE_SEGMENT}'; name it liver, right kidney, left kidney, spleen or "
                             f"{ERASE_SEGMENT} (erase), or delete it")
        try:
            mask, _outside = reader.mask(segmentId)
        except OffGridError:
            raise InputError(f"the strokes in {nodeLabel(strokesNode)} were painted on another geometry than "
                             f"{nodeLabel(volumeNode)}; paint them with {nodeLabel(volumeNode)} as the Segment "
                             "Editor's source volume") from None
        if mask is not None:
            labels[mask & (labels == 0)] = value
    return labels


def hasStrokes(strokesNode) -> bool:
    """True when any segment of the node holds a painted voxel (cheap: no resampling)."""
    import slicer
    from vtk.util import numpy_support

    segmentation = strokesNode.GetSegmentation()
    for index in range(segmentation.GetNumberOfSegments()):
        segmentId = segmentation.GetNthSegmentID(index)
        image = slicer.vtkOrientedImageData()
        if not slicer.vtkSlicerSegmentationsModuleLogic.GetSegmentBinaryLabelmapRepresentation(
                strokesNode, segmentId, image, False):
            continue
        scalars = image.GetPointData().GetScalars() if image.GetPointData() is not None else None
        if scalars is None:
            continue
        label = segmentation.GetSegment(segmentId).GetLabelValue()
        if np.any(numpy_support.vtk_to_numpy(scalars) == label):
            return True
    return False


def gatherStrokes(scene, volumesByName: dict, studyVolumes: list) -> tuple[dict[str, np.ndarray], list, list[str]]:
    """Strokes of the series in a run: ({series name: labelmap}, strokes nodes used, warnings).

    `volumesByName`: the run's series (engine name -> volume node). A non-empty strokes node whose series was
    removed from the scene is a one-line error; one on a series of the study that is not in the run is left out
    with a warning; strokes nodes of other studies are ignored.
    """
    runIDs = {node.GetID(): name for name, node in volumesByName.items()}
    studyIDs = {node.GetID() for node in studyVolumes}
    strokes, used, warnings = {}, [], []
    for node in strokesNodes(scene):
        volume = strokesVolumeOf(node)
        if volume is None:
            if hasStrokes(node):
                raise InputError(f"the strokes {nodeLabel(node)} belong to a series that is no longer in the scene "
                                 "(unknown series); load that series again or delete the strokes node")
            continue
        name = runIDs.get(volume.GetID())
        if name is None:
            if volume.GetID() in studyIDs and hasStrokes(node):
                warnings.append(f"the strokes on {nodeLabel(volume)} are not used: that series is not segmented in "
                                "this run; tick it to use them")
            continue
        labels = strokesLabelmap(node, volume)
        if not labels.any():
            continue
        if name in strokes:
            raise InputError(f"series {nodeLabel(volume)} has strokes in two nodes ({nodeLabel(node)} and another); "
                             "paint all its strokes into one and delete the other")
        strokes[name] = labels
        used.append(node)
    return strokes, used, warnings


def strokesSummary(volumes: list) -> str:
    """The module's line telling which series have correction strokes."""
    if not volumes:
        return "No correction strokes. To correct a result, show its series and press 'Paint corrections'."
    return "Correction strokes on: " + ", ".join(node.GetName() for node in volumes)
