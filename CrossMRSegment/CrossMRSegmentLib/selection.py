"""Choosing series: the T1w-looking reference, the other series of its study, one volume of a 4D DWI."""

from __future__ import annotations

import re

import numpy as np

from CrossMRLib.errors import InputError

from .nodes import VECTOR_CLASSES, nodeLabel, sequenceOfProxy

EXTRACTED_FROM_ATTRIBUTE = "CrossMR.ExtractedFrom"
OUTPUT_ATTRIBUTE = "CrossMR.Output"

_T1_EXPLICIT = re.compile(r"(^|[^a-z0-9])t1(w|[^a-z0-9]|_|$)|t1[-_ ]?weighted|t1w", re.IGNORECASE)
_T1_SEQUENCE = re.compile(r"vibe|lava|thrive|mprage|flash|spgr|fl3d|gre3d|3d[-_ ]?gre|pre[-_ ]?contrast", re.IGNORECASE)
_T1_DIXON = re.compile(r"in[-_ ]?phase|opp|out[-_ ]?of[-_ ]?phase|dixon|\bip\b|\bop\b", re.IGNORECASE)
_NOT_T1 = re.compile(r"t2|dwi|diffusion|adc|trace|(^|[^a-z])b[-_ =]?\d{2,4}|flair|t1[-_ ]?(map|rho)|stir|haste|ssfse|mrcp",
                     re.IGNORECASE)


def t1Score(text: str, echoTimeMs: float | None = None, repetitionTimeMs: float | None = None) -> int:
    """How T1-weighted a series looks from its name/description (and TE/TR when known); higher is more."""
    score = 0
    if _T1_EXPLICIT.search(text):
        score += 4
    if _T1_SEQUENCE.search(text):
        score += 2
    if _T1_DIXON.search(text):
        score += 1
    if _NOT_T1.search(text):
        score -= 4
    if echoTimeMs is not None and repetitionTimeMs is not None:
        score += 2 if (echoTimeMs < 15 and repetitionTimeMs < 800) else -2
    return score


def _dicomDescription(volumeNode) -> tuple[str, float | None, float | None]:
    """SeriesDescription, TE and TR of a volume loaded from DICOM (empty/None without a DICOM database)."""
    try:
        import slicer

        database = slicer.dicomDatabase
        uids = (volumeNode.GetAttribute("DICOM.instanceUIDs") or "").split()
        if not uids or database is None:
            return "", None, None
        path = database.fileForInstance(uids[0])

        def number(tag):
            value = database.fileValue(path, tag)
            return float(value.split("\\")[0]) if value else None

        return database.fileValue(path, "0008,103e") or "", number("0018,0081"), number("0018,0080")
    except Exception:  # no DICOM module, no database, unreadable tags: fall back to the name
        return "", None, None


def scalarVolumes(scene) -> list:
    """Every MRI volume in the scene (scalar, vector/multi-volume), labelmaps excluded, in scene order."""
    volumes = []
    nodes = scene.GetNodesByClass("vtkMRMLVolumeNode")
    for index in range(nodes.GetNumberOfItems()):
        node = nodes.GetItemAsObject(index)
        if node.IsA("vtkMRMLLabelMapVolumeNode") or node.GetHideFromEditors():
            continue
        if node.IsA("vtkMRMLScalarVolumeNode") or node.GetClassName() in VECTOR_CLASSES:
            volumes.append(node)
    return volumes


def defaultReferenceVolume(volumes: list) -> object | None:
    """The volume that looks most T1-weighted (name, DICOM series description, TE/TR); the first on a tie."""
    best, bestScore = None, None
    for node in volumes:
        description, echo, repetition = _dicomDescription(node)
        text = f"{node.GetName() or ''} {description}"
        score = t1Score(text, echo, repetition)
        if bestScore is None or score > bestScore:
            best, bestScore = node, score
    return best


def studyItemOf(volumeNode, scene) -> int:
    """Subject-hierarchy item of the volume's study (the parent of its item; the scene item if none)."""
    shNode = scene.GetSubjectHierarchyNode()
    item = shNode.GetItemByDataNode(volumeNode)
    parent = shNode.GetItemParent(item) if item else shNode.GetSceneItemID()
    return parent or shNode.GetSceneItemID()


def placeInStudy(scene, node, volumeNode) -> None:
    """Put `node` under the volume's study in the subject hierarchy (making its item if needed)."""
    shNode = scene.GetSubjectHierarchyNode()
    item = shNode.GetItemByDataNode(node)
    if not item:
        item = shNode.CreateItem(shNode.GetSceneItemID(), node)
    shNode.SetItemParent(item, studyItemOf(volumeNode, scene))


def candidateTargets(referenceVolume, scene) -> list:
    """The other MRI volumes of the reference's study (every volume when it is in no study)."""
    if referenceVolume is None:
        return []
    shNode = scene.GetSubjectHierarchyNode()
    study = studyItemOf(referenceVolume, scene)
    candidates = []
    for node in scalarVolumes(scene):
        if node is referenceVolume or node.GetAttribute(EXTRACTED_FROM_ATTRIBUTE):
            continue
        if study != shNode.GetSceneItemID() and not _isUnder(shNode, shNode.GetItemByDataNode(node), study):
            continue
        candidates.append(node)
    return candidates


def _isUnder(shNode, item, ancestor) -> bool:
    while item and item != shNode.GetSceneItemID():
        item = shNode.GetItemParent(item)
        if item == ancestor:
            return True
    return False


def _looksLikeBValue(*descriptions: str) -> bool:
    text = " ".join(d or "" for d in descriptions).lower().replace("-", "").replace("_", "")
    return "bvalue" in text or "s/mm" in text or text.strip() in ("b", "b (s/mm2)")


def frameValues(volumeNode, scene) -> list[float] | None:
    """Per-volume b-values of a 4D diffusion series; None when the frames are not labelled by b-value."""
    found = sequenceOfProxy(volumeNode, scene)
    try:
        if found is not None:
            sequence = found[1]
            if not _looksLikeBValue(sequence.GetIndexName(), sequence.GetIndexUnit()):
                return None
            return [float(sequence.GetNthIndexValue(i)) for i in range(sequence.GetNumberOfDataNodes())]
        labels = volumeNode.GetAttribute("MultiVolume.FrameLabels")
        tag = volumeNode.GetAttribute("MultiVolume.FrameIdentifyingDICOMTagName") or ""
        units = volumeNode.GetAttribute("MultiVolume.FrameIdentifyingDICOMTagUnits") or ""
        if not labels or not _looksLikeBValue(tag, units):
            return None
        return [float(v) for v in labels.split(",")]
    except ValueError:
        return None


def highestBValueVolume(volumeNode, scene):
    """A 3D volume holding the highest b-value of a 4D series (created once, reused on later calls).

    Returns (volumeNode, created). Raises InputError when the frames carry no numeric b-values.
    """
    import slicer

    values = frameValues(volumeNode, scene)
    if not values:
        raise InputError(f"{nodeLabel(volumeNode)} is 4D but not a diffusion series with b-values; "
                         "extract the volume you want (Sequences module) and select that")
    index = int(np.argmax(values))
    name = f"{volumeNode.GetName()} b={values[index]:g}"
    existing = scene.GetNodesByClass("vtkMRMLScalarVolumeNode")
    for i in range(existing.GetNumberOfItems()):
        node = existing.GetItemAsObject(i)
        if node.GetAttribute(EXTRACTED_FROM_ATTRIBUTE) == volumeNode.GetID() and node.GetName() == name:
            return node, False
    found = sequenceOfProxy(volumeNode, scene)
    extracted = slicer.vtkMRMLScalarVolumeNode()
    if found is not None:
        extracted.CopyContent(found[1].GetNthDataNode(index), True)
    else:
        import vtk

        matrix = vtk.vtkMatrix4x4()
        volumeNode.GetIJKToRASMatrix(matrix)
        extracted.SetIJKToRASMatrix(matrix)
        array = slicer.util.arrayFromVolume(volumeNode)[..., index]
        image = vtk.vtkImageData()
        image.SetDimensions(volumeNode.GetImageData().GetDimensions())
        image.AllocateScalars(vtk.VTK_FLOAT, 1)
        extracted.SetAndObserveImageData(image)
        slicer.util.arrayFromVolume(extracted)[:] = array
    extracted.SetName(name)
    extracted.SetAttribute(EXTRACTED_FROM_ATTRIBUTE, volumeNode.GetID())
    scene.AddNode(extracted)
    extracted.CreateDefaultDisplayNodes()
    placeInStudy(scene, extracted, volumeNode)
    return extracted, True
