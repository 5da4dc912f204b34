"""CrossMR Segment: paint scribbles on one series, get liver, kidneys and spleen on every series of the study.

The widget is thin: the work is done by the Qt-free `CrossMRSegmentLib` (logic, MRML conversion, background
process, dependency installation). The engine (`CrossMRLib`) and its dependencies are imported only when
they are used, so the module loads before they are installed.
"""

from typing import Annotated, Optional

import qt
import vtk

import slicer
from slicer.i18n import tr as _
from slicer.i18n import translate
from slicer.parameterNodeWrapper import Choice, WithinRange, parameterNodeWrapper
from slicer.ScriptedLoadableModule import ScriptedLoadableModule, ScriptedLoadableModuleLogic, ScriptedLoadableModuleWidget
from slicer.util import VTKObservationMixin
from slicer import vtkMRMLScalarVolumeNode, vtkMRMLSegmentationNode

from CrossMRSegmentLib import CrossMRSegmentLogic


class CrossMRSegment(ScriptedLoadableModule):
    def __init__(self, parent):
        ScriptedLoadableModule.__init__(self, parent)
        self.parent.title = _("CrossMR Segment")
        self.parent.categories = [translate("qSlicerAbstractCoreModule", "Segmentation")]
        self.parent.dependencies = []
        self.parent.contributors = ["CrossMR developers"]
        self.parent.helpText = _(
            "Paint a few strokes inside liver, right kidney, left kidney and spleen on one series (usually T1w), "
            "press Apply, and every other series of the study (T2w, DWI, Dixon in/opposed phase...) is segmented. "
            'See the <a href="https://github.com/CrossMR/SlicerCrossMR#readme">user guide</a>.')
        self.parent.acknowledgementText = _(
            "CrossMR uses 3D Slicer, PyTorch and MONAI. The module layout follows Slicer's scripted module template.")


@parameterNodeWrapper
class CrossMRSegmentParameterNode:
    """referenceVolume: series with the scribbles; scribbleSegmentation: the strokes; method, backgroundProcess,
    threads, device, joint: how the engine runs (threads 0 = all cores; device = auto, cpu or cuda; joint =
    series on one grid segmented together)."""

    referenceVolume: vtkMRMLScalarVolumeNode
    scribbleSegmentation: vtkMRMLSegmentationNode
    method: Annotated[str, Choice(["auto", "region-growing"])] = "auto"
    backgroundProcess: bool = True
    threads: Annotated[int, WithinRange(0, 256)] = 0
    device: Annotated[str, Choice(["auto", "cpu", "cuda"])] = "auto"
    joint: bool = True


class CrossMRSegmentModuleLogic(ScriptedLoadableModuleLogic, CrossMRSegmentLogic):
    """The Qt-free CrossMRSegmentLogic plus the module's parameter node."""

    def __init__(self) -> None:
        ScriptedLoadableModuleLogic.__init__(self)
        CrossMRSegmentLogic.__init__(self)
        self.moduleName = "CrossMRSegment"

    def getParameterNode(self):
        return CrossMRSegmentParameterNode(super().getParameterNode())


class CrossMRSegmentWidget(ScriptedLoadableModuleWidget, VTKObservationMixin):
    def __init__(self, parent=None) -> None:
        ScriptedLoadableModuleWidget.__init__(self, parent)
        VTKObservationMixin.__init__(self)
        self.logic = None
        self._parameterNode = None
        self._parameterNodeGuiTag = None
        self._process = None  # running background SegmentationProcess
        self._running = False
        self._cancelRequested = False
        self._createdVolumes = []  # highest b-value volumes made for this run (removed if it fails)
        self._uncheckedTargetIDs = set()

    def setup(self) -> None:
        ScriptedLoadableModuleWidget.setup(self)
        uiWidget = slicer.util.loadUI(self.resourcePath("UI/CrossMRSegment.ui"))
        self.layout.addWidget(uiWidget)
        self.ui = slicer.util.childWidgetVariables(uiWidget)
        uiWidget.setMRMLScene(slicer.mrmlScene)
        self.logic = CrossMRSegmentModuleLogic()

        self.addObserver(slicer.mrmlScene, slicer.mrmlScene.StartCloseEvent, self.onSceneStartClose)
        self.addObserver(slicer.mrmlScene, slicer.mrmlScene.EndCloseEvent, self.onSceneEndClose)
        self.addObserver(slicer.mrmlScene, slicer.mrmlScene.NodeAddedEvent, self.onSceneNodesChanged)
        self.addObserver(slicer.mrmlScene, slicer.mrmlScene.NodeRemovedEvent, self.onSceneNodesChanged)

        self.ui.applyButton.connect("clicked(bool)", self.onApplyButton)
        self.ui.createScribblesButton.connect("clicked(bool)", self.onCreateScribbles)
        self.ui.loadSampleButton.connect("clicked(bool)", self.onLoadSample)
        self.ui.showSeriesSelector.connect("currentNodeChanged(vtkMRMLNode*)", self.onShowSeries)
        self.ui.paintCorrectionsButton.connect("clicked(bool)", self.onPaintCorrections)
        self.ui.rerunSeriesButton.connect("clicked(bool)", self.onRerunSeries)
        self.ui.volumesTable.connect("cellClicked(int,int)", self.onVolumeRowClicked)
        self.ui.targetsListWidget.connect("itemChanged(QListWidgetItem*)", self.onTargetItemChanged)
        self.initializeParameterNode()
        self.updateDependencyStatus()

    def cleanup(self) -> None:
        if self._process is not None:
            self._process.cancel()
        self.removeObservers()

    def enter(self) -> None:
        self.initializeParameterNode()
        self.updateTargetList()

    def exit(self) -> None:
        if self._parameterNode:
            self._parameterNode.disconnectGui(self._parameterNodeGuiTag)
            self._parameterNodeGuiTag = None
            self.removeObserver(self._parameterNode, vtk.vtkCommand.ModifiedEvent, self.updateTargetList)

    def onSceneStartClose(self, caller, event) -> None:
        if self._process is not None:
            self._process.cancel()
        self.setParameterNode(None)

    def onSceneEndClose(self, caller, event) -> None:
        if self.parent.isEntered:
            self.initializeParameterNode()

    def onSceneNodesChanged(self, caller=None, event=None) -> None:
        if self.parent.isEntered and not slicer.mrmlScene.IsBatchProcessing():
            qt.QTimer.singleShot(0, self.updateTargetList)

    def onReload(self) -> None:
        """Reload the Lib package too (Slicer reloads only this file)."""
        import importlib
        import sys

        for name in sorted((n for n in sys.modules if n.split(".")[0] == "CrossMRSegmentLib"), reverse=True):
            importlib.reload(sys.modules[name])
        ScriptedLoadableModuleWidget.onReload(self)

    # ------------------------------------------------------------------ parameter node
    def initializeParameterNode(self) -> None:
        self.setParameterNode(self.logic.getParameterNode())
        if not self._parameterNode.referenceVolume:
            reference = self.logic.defaultReferenceVolume()
            if reference:
                self._parameterNode.referenceVolume = reference

    def setParameterNode(self, inputParameterNode: Optional[CrossMRSegmentParameterNode]) -> None:
        if self._parameterNode:
            self._parameterNode.disconnectGui(self._parameterNodeGuiTag)
            self.removeObserver(self._parameterNode, vtk.vtkCommand.ModifiedEvent, self.updateTargetList)
        self._parameterNode = inputParameterNode
        if self._parameterNode:
            self._parameterNodeGuiTag = self._parameterNode.connectGui(self.ui)
            self.addObserver(self._parameterNode, vtk.vtkCommand.ModifiedEvent, self.updateTargetList)
            self.updateTargetList()

    def _checkCanApply(self, caller=None, event=None) -> None:
        shown = self.ui.showSeriesSelector.currentNode()
        parameters = self._parameterNode
        self.ui.paintCorrectionsButton.enabled = bool(shown) and not self._running
        self.ui.rerunSeriesButton.enabled = bool(shown and parameters and parameters.referenceVolume
                                                 and parameters.scribbleSegmentation) and not self._running
        if self._running:
            self.ui.applyButton.enabled = True
            return
        ready = bool(parameters and parameters.referenceVolume and parameters.scribbleSegmentation
                     and self.checkedTargets())
        self.ui.applyButton.enabled = ready
        self.ui.applyButton.toolTip = _("Segment every ticked series") if ready else _(
            "Select a reference volume, its scribbles and at least one series to segment")
        self.ui.createScribblesButton.enabled = bool(parameters and parameters.referenceVolume)

    # ------------------------------------------------------------------ targets
    def updateTargetList(self, *unused) -> None:
        from CrossMRSegmentLib.gui import fillTargetList

        reference = self._parameterNode.referenceVolume if self._parameterNode else None
        fillTargetList(self.ui.targetsListWidget, self.logic, reference, self._uncheckedTargetIDs)
        self.updateStrokesStatus()
        self._checkCanApply()

    def updateStrokesStatus(self) -> None:
        """Tell which series have correction strokes."""
        from CrossMRSegmentLib.strokes import strokesSummary

        self.ui.strokesLabel.text = strokesSummary(self.logic.seriesWithStrokes())

    def onTargetItemChanged(self, item) -> None:
        from CrossMRSegmentLib.gui import rememberCheckState

        rememberCheckState(item, self._uncheckedTargetIDs)
        self._checkCanApply()

    def checkedTargets(self) -> list:
        from CrossMRSegmentLib.gui import checkedTargets

        return checkedTargets(self.ui.targetsListWidget, slicer.mrmlScene)

    # ------------------------------------------------------------------ actions
    def updateDependencyStatus(self) -> None:
        from CrossMRSegmentLib.install import dependencyStatus

        self.ui.dependencyLabel.text = _("Dependencies: {status}").format(status=dependencyStatus())

    def onCreateScribbles(self) -> None:
        from CrossMRSegmentLib.gui import openSegmentEditor

        with slicer.util.tryWithErrorDisplay(_("Could not create the scribble segmentation."), waitCursor=True):
            reference = self._parameterNode.referenceVolume
            node = self.logic.createScribbleSegmentation(reference)
            self._parameterNode.scribbleSegmentation = node
            openSegmentEditor(node, reference)

    def onLoadSample(self) -> None:
        """Generate the sample study (five series) with simulated scribbles on T1w, ready for Apply."""
        from CrossMRSegmentLib.gui import loadSample

        with slicer.util.tryWithErrorDisplay(_("Could not load the sample study."), waitCursor=True):
            loadSample(self.logic, self._parameterNode)
            self.updateTargetList()

    def onVolumeRowClicked(self, row: int, column: int) -> None:
        """A click on a row of the volume table shows that series with its result."""
        item = self.ui.volumesTable.item(row, column)
        node = slicer.mrmlScene.GetNodeByID(item.data(qt.Qt.UserRole)) if item is not None else None
        if node is not None:
            self.ui.showSeriesSelector.setCurrentNode(node)

    def onShowSeries(self, node) -> None:
        if node is not None:
            self.logic.showSeries(node)
        self._checkCanApply()

    def onPaintCorrections(self) -> None:
        """Open the Segment Editor on the shown series' "<series> CrossMR strokes" (created on first use)."""
        from CrossMRSegmentLib.gui import openSegmentEditor

        series = self.ui.showSeriesSelector.currentNode()
        if series is None:
            self.ui.statusLabel.text = _("Choose the series to correct in 'Show series'.")
            return
        with slicer.util.tryWithErrorDisplay(_("Could not create the correction strokes."), waitCursor=True):
            strokes = self.logic.correctionStrokesNode(series)
            self.logic.showSeries(series)
            openSegmentEditor(strokes, series)

    def onRerunSeries(self) -> None:
        """Re-segment only the shown series (with every correction stroke); only its result is replaced."""
        series = self.ui.showSeriesSelector.currentNode()
        if self._running or series is None:
            return
        self._start([series])

    def onApplyButton(self) -> None:
        if self._running:
            self._cancelRequested = True
            if self._process is not None:
                self._process.cancel()
            self.ui.statusLabel.text = _("Cancelling...")
            return
        self._start(None)

    def _start(self, only) -> None:
        """Run every ticked series (`only` None) or re-run the series in `only`, in the background or here."""
        from CrossMRSegmentLib.install import ensureDependencies

        try:
            with slicer.util.tryWithErrorDisplay(_("CrossMR could not start."), show=False, waitCursor=True):
                if not ensureDependencies(confirm=slicer.util.confirmOkCancelDisplay):
                    self.ui.statusLabel.text = _("Dependencies were not installed; nothing was done.")
                    return
                self.updateDependencyStatus()
                self.logic.lastWarnings = []
                parameters = self._parameterNode
                self.logic.method = parameters.method
                self.logic.threads = parameters.threads or None
                self.logic.device = parameters.device
                self.logic.joint = parameters.joint
                targets = [self._resolveTarget(node) for node in self.checkedTargets()]
                prepared = self.logic.prepare(parameters.referenceVolume, parameters.scribbleSegmentation, targets,
                                              only=only)
        except Exception as error:
            self._finish(None, None, error)
            return
        self._setRunning(True)
        if parameters.backgroundProcess:
            from CrossMRSegmentLib.process import SegmentationProcess

            self._process = SegmentationProcess(prepared, self.logic.method, self.logic.weights, self.logic.threads,
                                                device=self.logic.device, joint=self.logic.joint)
            self._process.start(self.onProgress, lambda labels, error: self._finish(prepared, labels, error))
            return
        try:  # in Slicer's process: progress events keep the GUI alive and let Cancel through
            labels = self.logic.compute(prepared, self.onProgress, lambda: self._cancelRequested)
        except Exception as error:
            self._finish(prepared, None, error)
            return
        self._finish(prepared, labels, None)

    def _resolveTarget(self, node):
        resolved, created = self.logic.resolveTarget(node)
        if created:
            self._createdVolumes.append(resolved)
        return resolved

    def onProgress(self, fraction: float, message: str) -> None:
        self.ui.progressBar.value = int(round(100 * fraction))
        self.ui.statusLabel.text = message
        slicer.app.processEvents()

    def _setRunning(self, running: bool) -> None:
        self._running = running
        self._cancelRequested = False
        self.ui.applyButton.text = _("Cancel") if running else _("Apply")
        self.ui.inputsCollapsibleButton.enabled = not running
        self.ui.advancedCollapsibleButton.enabled = not running
        self.ui.progressBar.value = 0
        self._checkCanApply()

    def _finish(self, prepared, labels, error) -> None:
        """Write the results (all or nothing) or report why there are none."""
        from CrossMRSegmentLib.gui import reportFailure

        warnings = list(self._process.warnings) if self._process is not None else []
        self._process = None
        self._setRunning(False)
        if error is None:
            try:
                outputs = self.logic.writeResults(prepared, labels)
                warnings = sorted({*prepared.warnings, *self.logic.lastWarnings, *warnings})
                self._createdVolumes = []
                self.ui.progressBar.value = 100
                self.ui.showSeriesSelector.setCurrentNode(prepared.outputVolumes[0])
                from CrossMRSegmentLib.gui import fillVolumesTable

                fillVolumesTable(self.ui.volumesTable, self.logic.lastVolumes)
                done = _("Segmented {count} series.").format(count=len(outputs)) if prepared.only is None else _(
                    "Re-segmented {names}; every other result was kept.").format(names=", ".join(prepared.only))
                self.ui.statusLabel.text = "\n".join([done, *warnings])
                self.updateStrokesStatus()
                return
            except Exception as exc:
                error = exc
        from CrossMRSegmentLib.outputs import removeNode

        for node in self._createdVolumes:
            removeNode(slicer.mrmlScene, node)
        self._createdVolumes = []
        reportFailure(error, self.ui.statusLabel)


# The self-test lives in its own file; it must be importable from here for "Reload and Test".
from CrossMRSegmentLib.selftest import CrossMRSegmentTest  # noqa: E402,F401
