"""The generated sample study in a scene: five series under one study, plus simulated scribbles.

Used by the module's "Load sample study" button and its self-test (needs the engine's Python packages).
"""

from __future__ import annotations

import numpy as np

SAMPLE_SERIES = ("t1w", "t2w", "dwi", "inphase", "opposed")


def generateSampleStudy(seed: int = 3, subsample: int = 1):
    """The generated phantom study (five series + labels); `subsample` > 1 keeps every n-th voxel in-plane."""
    from CrossMRLib.phantom import generate_study
    from CrossMRLib.series import Series

    study = generate_study(seed)
    for name in SAMPLE_SERIES:
        matrix = study.images[name].ijk_to_ras.copy()
        matrix[:3, :2] *= subsample  # columns i and j now step `subsample` voxels; voxel (0, 0, 0) stays put
        study.images[name] = Series(study.images[name].array[:, ::subsample, ::subsample].copy(), matrix, name)
        study.labels[name] = Series(study.labels[name].array[:, ::subsample, ::subsample].copy(), matrix, name)
    return study


def addSampleStudy(scene, study, studyName: str = "generated abdominal MRI"):
    """Add the study's five series as volume nodes under one patient/study item; ({name: node}, study item)."""
    import slicer
    import vtk

    shNode = scene.GetSubjectHierarchyNode()
    patient = shNode.CreateSubjectItem(shNode.GetSceneItemID(), "CrossMR phantom")
    studyItem = shNode.CreateStudyItem(patient, studyName)
    volumes = {}
    for name in SAMPLE_SERIES:
        series = study.images[name]
        node = scene.AddNewNodeByClass("vtkMRMLScalarVolumeNode", name)
        matrix = vtk.vtkMatrix4x4()
        for r in range(4):
            for c in range(4):
                matrix.SetElement(r, c, float(series.ijk_to_ras[r, c]))
        node.SetIJKToRASMatrix(matrix)
        slicer.util.updateVolumeFromArray(node, series.array.astype(np.float32))
        node.CreateDefaultDisplayNodes()
        item = shNode.GetItemByDataNode(node) or shNode.CreateItem(studyItem, node)
        shNode.SetItemParent(item, studyItem)
        volumes[name] = node
    return volumes, studyItem


def sampleStrokes(labels, seed: int = 7) -> np.ndarray:
    """Simulated sparse scribbles (uint8 organ labels) inside each organ of a labels `Series`, up to 3 slices."""
    from CrossMRLib.scribbles.synth import synthesize_scribbles

    spacing = labels.spacing
    return synthesize_scribbles(labels.array, mode="sparse", rng=np.random.default_rng(seed), max_slices=3,
                                spacing=(spacing[1], spacing[0]))


def paintSampleScribbles(logic, study, referenceVolume, seed: int = 7):
    """A scribble segmentation on the reference with simulated sparse strokes (up to 3 slices per organ)."""
    import slicer
    import vtk
    from vtk.util import numpy_support

    from CrossMRLib.organs import ORGANS

    strokes = sampleStrokes(study.labels[referenceVolume.GetName()], seed)
    node = logic.createScribbleSegmentation(referenceVolume)
    matrix = vtk.vtkMatrix4x4()
    referenceVolume.GetIJKToRASMatrix(matrix)
    segmentationsLogic = slicer.vtkSlicerSegmentationsModuleLogic
    for index, organ in enumerate(ORGANS):
        mask = slicer.vtkOrientedImageData()
        mask.SetExtent(referenceVolume.GetImageData().GetExtent())
        mask.SetImageToWorldMatrix(matrix)
        mask.AllocateScalars(vtk.VTK_UNSIGNED_CHAR, 1)
        numpy_support.vtk_to_numpy(mask.GetPointData().GetScalars())[:] = (strokes == organ.label).ravel()
        segmentId = node.GetSegmentation().GetNthSegmentID(index)
        if not segmentationsLogic.SetBinaryLabelmapToSegment(mask, node, segmentId, segmentationsLogic.MODE_REPLACE,
                                                             mask.GetExtent()):
            raise RuntimeError(f"could not paint the sample scribbles of {organ.name}")
    return node
