"""Slicer self-test of CrossMR Segment: the logic on the generated sample study, inside the application.

Imported by CrossMRSegment.py (so "Reload and Test" and the ctest find it); needs the Slicer application.
"""

import tempfile
from pathlib import Path

import numpy as np

import slicer
from slicer.ScriptedLoadableModule import ScriptedLoadableModuleTest

from CrossMRSegmentLib import CrossMRSegmentLogic


class CrossMRSegmentTest(ScriptedLoadableModuleTest):
    """The logic on the generated sample study inside Slicer (needs CrossMR's Python packages installed)."""

    def setUp(self):
        slicer.mrmlScene.Clear()

    def runTest(self):
        self.setUp()
        self.test_CrossMRSegment_study()
        self.setUp()
        self.test_CrossMRSegment_mistakes()

    def _scene(self):
        from CrossMRSegmentLib.install import missingRequirements, torchInstalled

        if not torchInstalled() or missingRequirements():
            self.skipTest("CrossMR's Python packages are not installed (press Apply once in the module)")
        from CrossMRSegmentLib.sample import addSampleStudy, generateSampleStudy, paintSampleScribbles

        self.delayDisplay("Generating the sample study")
        study = generateSampleStudy(3, subsample=2)
        volumes, studyItem = addSampleStudy(slicer.mrmlScene, study)
        logic = CrossMRSegmentLogic()
        logic.method = "region-growing"  # deterministic and needs no model weights
        return study, volumes, studyItem, logic, paintSampleScribbles(logic, study, volumes["t1w"])

    @staticmethod
    def _snapshot():
        nodes = [slicer.mrmlScene.GetNthNode(i) for i in range(slicer.mrmlScene.GetNumberOfNodes())]
        return [(n.GetID(), n.GetMTime()) for n in nodes if not n.IsA("vtkMRMLSubjectHierarchyNode")]

    def test_CrossMRSegment_study(self):
        from CrossMRLib.errors import Cancelled
        from CrossMRLib.organs import ORGANS, organ_from_terminology
        from CrossMRSegmentLib.process import SegmentationProcess
        from CrossMRSegmentLib.segments import terminologyEntry

        study, volumes, studyItem, logic, scribbles = self._scene()
        shNode = slicer.mrmlScene.GetSubjectHierarchyNode()
        targets = [volumes[n] for n in ("t2w", "dwi", "inphase", "opposed")]
        self.delayDisplay("Segmenting five series")
        outputs = logic.run(volumes["t1w"], scribbles, targets)
        self.assertEqual(set(outputs), {v.GetID() for v in volumes.values()})
        scores = []
        for name, volume in volumes.items():
            node = outputs[volume.GetID()]
            self.assertEqual(node.GetName(), f"{name} CrossMR")
            self.assertEqual(node.GetAttribute("CrossMR.Output"), "1")
            self.assertIs(node.GetNodeReference(node.GetReferenceImageGeometryReferenceRole()), volume)
            self.assertEqual(shNode.GetItemParent(shNode.GetItemByDataNode(node)), studyItem)
            segmentation = node.GetSegmentation()
            self.assertEqual([segmentation.GetNthSegment(i).GetName() for i in range(4)], [o.name for o in ORGANS])
            for index, organ in enumerate(ORGANS):
                segment = segmentation.GetNthSegment(index)
                self.assertTrue(np.allclose(segment.GetColor(), organ.color_float))
                self.assertIs(organ_from_terminology(terminologyEntry(segment)), organ)
                array = slicer.util.arrayFromSegmentBinaryLabelmap(node, segmentation.GetNthSegmentID(index), volume)
                self.assertEqual(array.shape, slicer.util.arrayFromVolume(volume).shape)
                truth = study.labels[name].array == organ.label
                scores.append(2 * np.logical_and(array, truth).sum() / max(array.sum() + truth.sum(), 1))
        self.assertGreaterEqual(float(np.mean(scores)), 0.25, f"mean Dice {np.mean(scores):.3f}")

        self.delayDisplay("Re-run: replaces CrossMR's nodes only")
        mine = slicer.mrmlScene.AddNewNodeByClass("vtkMRMLSegmentationNode", "t2w CrossMR")  # the user's, same name
        mineTime = mine.GetMTime()
        again = logic.run(volumes["t1w"], scribbles, [volumes["t2w"]])
        self.assertIsNone(slicer.mrmlScene.GetNodeByID(outputs[volumes["t2w"].GetID()].GetID()))
        self.assertIs(slicer.mrmlScene.GetNodeByID(outputs[volumes["dwi"].GetID()].GetID()),
                      outputs[volumes["dwi"].GetID()])
        self.assertIs(slicer.mrmlScene.GetNodeByID(mine.GetID()), mine)
        self.assertEqual(mine.GetMTime(), mineTime)

        self.delayDisplay("Cancel leaves the scene as it was")
        before, calls = self._snapshot(), []
        with self.assertRaises(Cancelled):
            logic.run(volumes["t1w"], scribbles, targets, progress=lambda f, m: calls.append(f),
                      cancel=lambda: len(calls) >= 2)
        self.assertEqual(self._snapshot(), before)

        self.delayDisplay("Background process (PythonSlicer) gives the same labels")
        prepared = logic.prepare(volumes["t1w"], scribbles, [volumes["dwi"]])
        background = SegmentationProcess(prepared, logic.method).runBlocking()
        inProcess = logic.compute(prepared)
        for volumeID, labels in inProcess.items():
            self.assertTrue(np.array_equal(background[volumeID], labels))

        self.delayDisplay("Save and load as .seg.nrrd")
        node = again[volumes["t2w"].GetID()]
        path = str(Path(tempfile.mkdtemp()) / "t2w.seg.nrrd")
        self.assertTrue(slicer.util.saveNode(node, path))
        loaded = slicer.util.loadSegmentation(path)
        for index in range(4):
            original, reread = node.GetSegmentation().GetNthSegment(index), loaded.GetSegmentation().GetNthSegment(index)
            self.assertEqual(original.GetName(), reread.GetName())
            self.assertEqual(terminologyEntry(original), terminologyEntry(reread))
            self.assertTrue(np.array_equal(
                slicer.util.arrayFromSegmentBinaryLabelmap(node, node.GetSegmentation().GetNthSegmentID(index),
                                                           volumes["t2w"]),
                slicer.util.arrayFromSegmentBinaryLabelmap(loaded, loaded.GetSegmentation().GetNthSegmentID(index),
                                                           volumes["t2w"])))
        self.delayDisplay("Test passed")

    def test_CrossMRSegment_mistakes(self):
        from CrossMRLib.errors import InputError

        study, volumes, _item, logic, scribbles = self._scene()
        empty = logic.createScribbleSegmentation(volumes["t1w"])
        onT2w = logic.createScribbleSegmentation(volumes["t2w"])
        slicer.util.updateSegmentBinaryLabelmapFromArray((study.labels["t2w"].array == 1).astype(np.uint8), onT2w,
                                                         onT2w.GetSegmentation().GetNthSegmentID(0), volumes["t2w"])
        flat = slicer.util.addVolumeFromArray(slicer.util.arrayFromVolume(volumes["t1w"])[:1].copy(), name="one slice")
        cases = [((None, scribbles, [volumes["t2w"]]), "no reference volume"),
                 ((volumes["t1w"], scribbles, []), "no target series"),
                 ((volumes["t1w"], empty, [volumes["t2w"]]), "are empty"),
                 ((volumes["t1w"], onT2w, [volumes["dwi"]]), "another geometry"),
                 ((flat, scribbles, [volumes["t2w"]]), "is 2D"),
                 ((volumes["t1w"], scribbles, [flat]), "is 2D")]
        for arguments, expected in cases:
            before = self._snapshot()
            with self.assertRaises(InputError) as raised:
                logic.run(*arguments)
            self.assertIn(expected, str(raised.exception))
            self.assertNotIn("\n", str(raised.exception))
            self.assertEqual(self._snapshot(), before)
        self.assertEqual(logic.outputNodes(), [])
        self.delayDisplay("Test passed")
