"""Widget-side helpers (need Slicer's Qt; imported only by the module widget, never by the logic)."""

from __future__ import annotations

import logging
import traceback


def fillTargetList(listWidget, logic, referenceVolume, uncheckedIDs: set) -> None:
    """List the other series of the reference's study as checkable items (ticked unless the user unticked them)."""
    import qt

    listWidget.blockSignals(True)
    listWidget.clear()
    for node in logic.candidateTargets(referenceVolume):
        count = logic.volumeCount(node)
        text = node.GetName() if count <= 1 else f"{node.GetName()} (4D, {count} volumes: highest b-value used)"
        item = qt.QListWidgetItem(text)
        item.setData(qt.Qt.UserRole, node.GetID())
        item.setFlags(item.flags() | qt.Qt.ItemIsUserCheckable)
        item.setCheckState(qt.Qt.Unchecked if node.GetID() in uncheckedIDs else qt.Qt.Checked)
        listWidget.addItem(item)
    listWidget.blockSignals(False)


def rememberCheckState(item, uncheckedIDs: set) -> None:
    """Keep the user's untick across list refreshes."""
    import qt

    nodeID = item.data(qt.Qt.UserRole)
    if item.checkState() == qt.Qt.Checked:
        uncheckedIDs.discard(nodeID)
    else:
        uncheckedIDs.add(nodeID)


def checkedTargets(listWidget, scene) -> list:
    """Volume nodes of the ticked items."""
    import qt

    items = [listWidget.item(row) for row in range(listWidget.count)]
    nodes = [scene.GetNodeByID(i.data(qt.Qt.UserRole)) for i in items if i.checkState() == qt.Qt.Checked]
    return [node for node in nodes if node is not None]


def openSegmentEditor(segmentationNode, sourceVolume) -> None:
    """Switch to the Segment Editor on the scribbles, first organ selected, Paint active."""
    import slicer

    slicer.util.setSliceViewerLayers(background=sourceVolume, fit=True)
    slicer.util.selectModule("SegmentEditor")
    editor = slicer.modules.segmenteditor.widgetRepresentation().self().editor
    editor.setSegmentationNode(segmentationNode)
    setSource = getattr(editor, "setSourceVolumeNode", None) or editor.setMasterVolumeNode  # Slicer < 5.4
    setSource(sourceVolume)
    editor.setCurrentSegmentID(segmentationNode.GetSegmentation().GetNthSegmentID(0))
    editor.setActiveEffectByName("Paint")


def loadSample(logic, parameterNode) -> None:
    """Load the generated sample study with simulated scribbles on T1w and select them (installs dependencies first)."""
    import slicer

    from .install import ensureDependencies
    from .sample import addSampleStudy, generateSampleStudy, paintSampleScribbles

    if not ensureDependencies(confirm=slicer.util.confirmOkCancelDisplay):
        return
    study = generateSampleStudy()
    volumes, _studyItem = addSampleStudy(slicer.mrmlScene, study)
    parameterNode.referenceVolume = volumes["t1w"]
    parameterNode.scribbleSegmentation = paintSampleScribbles(logic, study, volumes["t1w"])
    slicer.util.setSliceViewerLayers(background=volumes["t1w"], fit=True)


def reportFailure(error: BaseException, statusLabel) -> None:
    """Tell the user why a run produced nothing: a cancel, a user mistake (one line) or a bug (with details)."""
    import slicer

    from CrossMRLib.errors import Cancelled, InputError

    if isinstance(error, Cancelled):
        statusLabel.text = "Cancelled; the scene was not changed."
    elif isinstance(error, InputError):
        statusLabel.text = str(error)
        slicer.util.errorDisplay(str(error), windowTitle="CrossMR")
    else:
        details = "".join(traceback.format_exception(type(error), error, error.__traceback__))
        logging.error(details)
        statusLabel.text = "CrossMR failed; nothing was written."
        slicer.util.errorDisplay(f"CrossMR failed; nothing was written.\n\n{error}", windowTitle="CrossMR",
                                 detailedText=details)


def fillVolumesTable(table, rows: list[dict]) -> None:
    """Organ volumes after Apply; flagged rows in bold on a warning colour; the volume node ID in each item."""
    import qt

    from .volumes import volumeTableCells

    cells = volumeTableCells(rows)
    table.clearContents()
    table.setRowCount(len(cells))
    for index, (texts, flagged, volumeID) in enumerate(cells):
        for column, text in enumerate(texts):
            item = qt.QTableWidgetItem(text)
            item.setData(qt.Qt.UserRole, volumeID)
            item.setFlags(qt.Qt.ItemIsSelectable | qt.Qt.ItemIsEnabled)
            if flagged:
                item.setBackground(qt.QBrush(qt.QColor(255, 210, 160)))
                font = item.font()
                font.setBold(True)
                item.setFont(font)
            table.setItem(index, column, item)
    table.resizeColumnsToContents()
