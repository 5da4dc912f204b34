"""Segments <-> organ labelmaps: read scribble segments onto the reference grid, write organ segments.

Scribble segments are matched to organs by terminology, else by name (as the engine does for `.seg.nrrd`
files). Output segments carry the organ's name, colour and SNOMED terminology tag.
"""

from __future__ import annotations

import numpy as np

from CrossMRLib.errors import InputError
from CrossMRLib.organs import ORGAN_BY_LABEL, Organ, organ_from_name, organ_from_terminology

from .nodes import ijkToWorld, nodeLabel, vtkMatrix

LATTICE_TOLERANCE = 1e-3  # direction/spacing tolerance (relative) and voxel offset tolerance (voxels)


def terminologyEntry(segment) -> str:
    """A segment's `TerminologyEntry` tag ('' when it has none)."""
    import vtk

    value = vtk.reference("")
    return str(value) if segment.GetTag(segment.GetTerminologyEntryTagName(), value) else ""


def segmentOrgan(segment) -> Organ | None:
    """The organ a segment stands for: its terminology first, else its name; None if neither matches."""
    return organ_from_terminology(terminologyEntry(segment)) or organ_from_name(segment.GetName() or "")


def _orientedGeometry(extent, ijkToRas: np.ndarray):
    """An empty vtkOrientedImageData with `extent` and IJK-to-world `ijkToRas` (geometry only)."""
    import slicer

    image = slicer.vtkOrientedImageData()
    image.SetExtent(*extent)
    image.SetImageToWorldMatrix(vtkMatrix(ijkToRas))
    return image


def _imageToWorld(image) -> np.ndarray:
    """IJK (of the image's own index space) to world RAS of a vtkOrientedImageData."""
    import vtk

    matrix = vtk.vtkMatrix4x4()
    image.GetImageToWorldMatrix(matrix)
    return np.array([[matrix.GetElement(r, c) for c in range(4)] for r in range(4)])


def _onLattice(sourceIjkToWorld: np.ndarray, referenceIjkToWorld: np.ndarray) -> bool:
    """True when the source voxels sit exactly on the reference lattice (same axes and spacing, whole-voxel shift)."""
    toReference = np.linalg.inv(referenceIjkToWorld) @ sourceIjkToWorld
    if np.abs(toReference[:3, :3] - np.eye(3)).max() > LATTICE_TOLERANCE:
        return False
    offset = toReference[:3, 3]
    return bool(np.abs(offset - np.round(offset)).max() <= 0.1)


class OffGridError(Exception):
    """A segment's voxels do not sit on the volume's voxel lattice (painted on another geometry)."""


class SegmentGridReader:
    """Reads the segments of one segmentation as (K, J, I) masks on one volume's voxel grid."""

    def __init__(self, segmentationNode, volumeNode, role: str) -> None:
        transformNode = segmentationNode.GetParentTransformNode()
        if transformNode is not None and not transformNode.IsTransformToWorldLinear():
            raise InputError(f"{role} segmentation {nodeLabel(segmentationNode)} is under a non-linear transform; "
                             "harden the transform and run again")
        self.node = segmentationNode
        image = volumeNode.GetImageData()
        self.ijkToWorld = ijkToWorld(volumeNode)
        self.geometry = _orientedGeometry(image.GetExtent(), self.ijkToWorld)
        self.shape = tuple(reversed(image.GetDimensions()))

    def mask(self, segmentId: str) -> tuple[np.ndarray | None, int]:
        """(mask of the segment on the grid, or None when it is empty; voxels left outside the grid).

        Raises OffGridError when the segment was painted on another lattice.
        """
        import slicer
        from vtk.util import numpy_support

        segment = self.node.GetSegmentation().GetSegment(segmentId)
        image = slicer.vtkOrientedImageData()
        if not slicer.vtkSlicerSegmentationsModuleLogic.GetSegmentBinaryLabelmapRepresentation(
                self.node, segmentId, image, True):
            raise InputError(f"segment '{segment.GetName()}' of {nodeLabel(self.node)} has no labelmap; paint it "
                             "with the Segment Editor")
        extent = image.GetExtent()
        if extent[1] < extent[0] or extent[3] < extent[2] or extent[5] < extent[4]:
            return None, 0
        total = int(np.count_nonzero(numpy_support.vtk_to_numpy(image.GetPointData().GetScalars())
                                     == segment.GetLabelValue()))
        if total == 0:
            return None, 0
        if not _onLattice(_imageToWorld(image), self.ijkToWorld):
            raise OffGridError(segment.GetName())
        resampled = slicer.vtkOrientedImageData()
        if not slicer.vtkOrientedImageDataResample.ResampleOrientedImageToReferenceOrientedImage(
                image, self.geometry, resampled, False, True):
            raise RuntimeError(f"could not resample segment '{segment.GetName()}' into the volume's grid")
        values = numpy_support.vtk_to_numpy(resampled.GetPointData().GetScalars()).reshape(self.shape)
        mask = values == segment.GetLabelValue()
        return mask, total - int(np.count_nonzero(mask))


def scribbleLabelmap(segmentationNode, referenceVolume) -> tuple[np.ndarray, list[str]]:
    """Organ labelmap (uint8 (K, J, I), 1..4) of the scribble segments in the reference grid, and warnings.

    Raises InputError when no segment is an organ, the scribbles are empty, or they were painted on
    another grid than the reference volume's.
    """
    if segmentationNode is None:
        raise InputError("no scribble segmentation selected; press 'Create scribbles' and paint on the reference")
    segmentation = segmentationNode.GetSegmentation()
    reader = SegmentGridReader(segmentationNode, referenceVolume, "scribble")
    labels = np.zeros(reader.shape, dtype=np.uint8)
    warnings, names, matched = [], [], 0
    for index in range(segmentation.GetNumberOfSegments()):
        segmentId = segmentation.GetNthSegmentID(index)
        segment = segmentation.GetSegment(segmentId)
        names.append(segment.GetName())
        organ = segmentOrgan(segment)
        if organ is None:
            warnings.append(f"segment '{segment.GetName()}' matches no organ and is ignored; name it liver, "
                            "right kidney, left kidney or spleen")
            continue
        matched += 1
        try:
            mask, outside = reader.mask(segmentId)
        except OffGridError:
            raise InputError(
                f"the scribbles in {nodeLabel(segmentationNode)} were painted on another geometry than the reference "
                f"{nodeLabel(referenceVolume)}; select the volume you painted on as reference, or paint the scribbles "
                "with the reference as source volume") from None
        if mask is None:
            continue  # empty segment
        if outside:
            warnings.append(f"part of segment '{segment.GetName()}' lies outside the reference volume and is ignored")
        labels[mask & (labels == 0)] = organ.label
    if matched == 0:
        found = ", ".join(f"'{n}'" for n in names) or "none"
        raise InputError(f"no scribble segment is an organ (found {found}); name segments liver, right kidney, "
                         "left kidney, spleen, or press 'Create scribbles'")
    if not labels.any():
        raise InputError(f"the scribbles in {nodeLabel(segmentationNode)} are empty; paint at least one stroke inside "
                         "an organ on the reference volume")
    return labels, warnings


def addOrganSegment(segmentationNode, organ: Organ) -> str:
    """Add an empty segment for `organ` (name, colour, terminology); returns its ID."""
    import slicer

    segment = slicer.vtkSegment()
    segment.SetName(organ.name)
    segment.SetColor(*organ.color_float)
    segment.SetTag(segment.GetTerminologyEntryTagName(), organ.terminology_entry())
    segmentId = organ.name.replace(" ", "_")
    if not segmentationNode.GetSegmentation().AddSegment(segment, segmentId):
        raise RuntimeError(f"could not add segment '{organ.name}' to {nodeLabel(segmentationNode)}")
    return segmentId


def writeOrganSegments(segmentationNode, labels: np.ndarray, volumeNode, organLabels: list[int]) -> None:
    """Fill `segmentationNode` with one segment per organ in `organLabels` from `labels` on `volumeNode`'s grid.

    The labelmap is written in the volume's own (untransformed) IJK-to-RAS; the caller puts the
    segmentation under the volume's parent transform.
    """
    import slicer
    import vtk
    from vtk.util import numpy_support

    matrix = vtk.vtkMatrix4x4()
    volumeNode.GetIJKToRASMatrix(matrix)
    image = volumeNode.GetImageData()
    logic = slicer.vtkSlicerSegmentationsModuleLogic
    for label in organLabels:
        organ = ORGAN_BY_LABEL[label]
        segmentId = addOrganSegment(segmentationNode, organ)
        mask = slicer.vtkOrientedImageData()
        mask.SetExtent(image.GetExtent())
        mask.SetImageToWorldMatrix(matrix)
        mask.AllocateScalars(vtk.VTK_UNSIGNED_CHAR, 1)
        voxels = numpy_support.vtk_to_numpy(mask.GetPointData().GetScalars())
        voxels[:] = (labels == label).astype(np.uint8).ravel()
        mask.Modified()
        if not logic.SetBinaryLabelmapToSegment(mask, segmentationNode, segmentId, logic.MODE_REPLACE,
                                                mask.GetExtent()):
            raise RuntimeError(f"could not write segment '{organ.name}' to {nodeLabel(segmentationNode)}")
    segmentationNode.GetSegmentation().CollapseBinaryLabelmaps(False)
