"""MRML volume nodes <-> engine `Series`: checks (3D, scalar, one volume) and geometry in world RAS."""

from __future__ import annotations

import numpy as np

from CrossMRLib.errors import InputError
from CrossMRLib.series import Series

VECTOR_CLASSES = ("vtkMRMLVectorVolumeNode", "vtkMRMLMultiVolumeNode", "vtkMRMLDiffusionWeightedVolumeNode",
                  "vtkMRMLDiffusionTensorVolumeNode")


def nodeLabel(node) -> str:
    """How a node is named in messages."""
    return f"'{node.GetName()}'" if node is not None else "(none)"


def ijkToWorld(volumeNode) -> np.ndarray:
    """4x4 IJK-to-RAS of a volume in world coordinates (its linear parent transform applied)."""
    import vtk

    matrix = vtk.vtkMatrix4x4()
    volumeNode.GetIJKToRASMatrix(matrix)
    ijkToRas = _numpy(matrix)
    transformNode = volumeNode.GetParentTransformNode()
    if transformNode is None:
        return ijkToRas
    if not transformNode.IsTransformToWorldLinear():
        raise InputError(f"{nodeLabel(volumeNode)} is under a non-linear transform; harden the transform "
                         "(Data module: right-click > Harden transform) and run again")
    toWorld = vtk.vtkMatrix4x4()
    transformNode.GetMatrixTransformToWorld(toWorld)
    return _numpy(toWorld) @ ijkToRas


def _numpy(matrix) -> np.ndarray:
    return np.array([[matrix.GetElement(r, c) for c in range(4)] for r in range(4)], dtype=np.float64)


def vtkMatrix(array: np.ndarray):
    """numpy 4x4 -> vtkMatrix4x4."""
    import vtk

    matrix = vtk.vtkMatrix4x4()
    for r in range(4):
        for c in range(4):
            matrix.SetElement(r, c, float(array[r, c]))
    return matrix


def sequenceOfProxy(volumeNode, scene):
    """(browser, sequence) when `volumeNode` shows one item of a sequence (4D series), else None."""
    if scene is None or volumeNode is None:
        return None
    browsers = scene.GetNodesByClass("vtkMRMLSequenceBrowserNode")
    for index in range(browsers.GetNumberOfItems()):
        browser = browsers.GetItemAsObject(index)
        if browser.IsProxyNodeID(volumeNode.GetID()):
            sequence = browser.GetSequenceNode(volumeNode)
            if sequence is not None and sequence.GetNumberOfDataNodes() > 1:
                return browser, sequence
    return None


def volumeCount(volumeNode, scene) -> int:
    """Number of volumes in a series: 1 for a 3D scalar volume, N for 4D (sequence or multi-component)."""
    found = sequenceOfProxy(volumeNode, scene)
    if found is not None:
        return found[1].GetNumberOfDataNodes()
    image = volumeNode.GetImageData()
    if volumeNode.GetClassName() in VECTOR_CLASSES or (image is not None and image.GetNumberOfScalarComponents() > 1):
        return max(image.GetNumberOfScalarComponents() if image is not None else 2, 2)
    return 1


def checkVolume(volumeNode, role: str, scene) -> None:
    """Raise InputError unless `volumeNode` is one 3D scalar volume with voxels."""
    if volumeNode is None:
        raise InputError(f"no {role} volume selected; select a volume")
    if not volumeNode.IsA("vtkMRMLVolumeNode"):
        raise InputError(f"{role} {nodeLabel(volumeNode)} is a {volumeNode.GetClassName()}, not an image volume; "
                         "select an MRI volume")
    if volumeNode.IsA("vtkMRMLLabelMapVolumeNode"):
        raise InputError(f"{role} {nodeLabel(volumeNode)} is a labelmap; select the MRI volume itself")
    image = volumeNode.GetImageData()
    if image is None or image.GetNumberOfPoints() == 0:
        raise InputError(f"{role} {nodeLabel(volumeNode)} holds no voxels; load the series again")
    count = volumeCount(volumeNode, scene)
    if count > 1:
        raise InputError(
            f"{role} {nodeLabel(volumeNode)} is a 4D series ({count} volumes); CrossMR needs one 3D volume per "
            "series: pick one (the CrossMR module uses the highest b-value of a DWI series) and run again")
    dims = image.GetDimensions()
    if min(dims) < 2:
        raise InputError(f"{role} {nodeLabel(volumeNode)} is 2D ({dims[0]} x {dims[1]} x {dims[2]} voxels); "
                         "CrossMR needs 3D series with several slices: load the whole series")


def volumeToSeries(volumeNode, name: str, scene) -> Series:
    """A checked 3D scalar volume as a `Series` (float32 copy, world geometry) named `name`."""
    import slicer

    checkVolume(volumeNode, "series", scene)
    array = np.array(slicer.util.arrayFromVolume(volumeNode), dtype=np.float32, copy=True)
    finite = np.isfinite(array)
    if not finite.all():
        array[~finite] = float(array[finite].min()) if finite.any() else 0.0
    return Series(array, ijkToWorld(volumeNode), name, modality=None,
                  meta={"node_id": volumeNode.GetID(), "node_name": volumeNode.GetName()})
