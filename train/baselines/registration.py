"""Registration-based label transfer: register each target series to the reference, carry labels across.

What a user does today to take one series' segmentation to the other series of a study (SlicerElastix,
BRAINSFit): intensity-based registration, then the labels resampled through the transform (nearest
neighbour). Here with SimpleITK: Mattes mutual information (the series have different contrasts), a rigid
centred Euler3D transform started at identity (the series share the scanner frame), then a cubic B-spline
for the breath-hold differences, two resolution levels each, on copies of both series resampled to at most
`work_mm` in-plane. Geometry is exact: `to_sitk` builds ITK's LPS image from a series' IJK-to-RAS matrix.

Settings (`SETTINGS`) are chosen on generated calibration studies (seeds 6-10, never a benchmark study) by
`python -m train.baselines.registration_calibrate --threads 1`, which writes registration_calibration.json
(shown in the "Registration settings" section of docs/benchmarks.md). True labels carried, mean DSC over
T2w, DWI, in- and opposed-phase and seeds 6-10 (CPU s per target, 1 thread): no registration (by position)
0.940; rigid only 0.952 (1.3 s); rigid + B-spline 80 mm mesh, 30 iterations 0.936 (29 s); 50 mm, 30 it
0.911 (68 s); 80 mm, 60 it, 10 % sampling 0.932 (83 s). Every B-spline gains at most 0.003 on in-phase and
loses on T2w (0.864-0.910 against 0.951) and DWI (0.893-0.921 against 0.946); our reading, not checked
further: across contrasts, mutual information lets the deformation follow contrast differences rather
than anatomy. So `SETTINGS` is rigid only;
the B-spline stage stays for the calibration's candidates (`bspline_iterations`).
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass

import numpy as np
import SimpleITK as sitk

from CrossMRLib.errors import InputError
from CrossMRLib.preprocess import normalize_intensity
from CrossMRLib.series import Series

RAS_TO_LPS = np.diag([-1.0, -1.0, 1.0])


@dataclass(frozen=True)
class RegistrationSettings:
    """Rigid then B-spline, Mattes MI; iterations per resolution level."""

    work_mm: float = 3.0  # in-plane pixel of the working copies (coarser pixels are kept)
    bins: int = 32
    sampling: float = 0.05  # fraction of working voxels sampled for the metric (random, seeded)
    rigid_iterations: int = 100
    bspline_iterations: int = 0  # 0: rigid only (what the calibration chose; see the module docstring)
    mesh_mm: float = 80.0  # B-spline control-point spacing
    shrink: tuple[int, ...] = (2, 1)
    smoothing_mm: tuple[float, ...] = (4.0, 0.0)
    seed: int = 7

    def key(self) -> str:
        """Settings as short text (cache keys, the page)."""
        return ", ".join(f"{k}={v}" for k, v in asdict(self).items())


SETTINGS = RegistrationSettings()


def to_sitk(array: np.ndarray, ijk_to_ras: np.ndarray) -> sitk.Image:
    """A (K, J, I) array with its IJK-to-RAS matrix as a SimpleITK image in ITK's LPS frame."""
    matrix = np.asarray(ijk_to_ras, dtype=np.float64)
    axes = RAS_TO_LPS @ matrix[:3, :3]
    spacing = np.linalg.norm(axes, axis=0)
    if np.any(spacing <= 0):
        raise InputError("a series has a zero voxel size in its geometry; it cannot be registered")
    image = sitk.GetImageFromArray(np.ascontiguousarray(array))
    image.SetSpacing([float(s) for s in spacing])
    image.SetDirection([float(v) for v in (axes / spacing).ravel()])
    image.SetOrigin([float(v) for v in RAS_TO_LPS @ matrix[:3, 3]])
    return image


def working_copy(series: Series, work_mm: float, min_slices: int = 1) -> sitk.Image:
    """The series scaled to [0, 1] and, where its pixels are finer than `work_mm`, smoothed and resampled
    to `work_mm` in-plane (slices kept); a series of fewer than `min_slices` slices gets its edge slices
    repeated up to that many (ITK's smoothing needs 4 pixels per axis at every resolution level)."""
    image = to_sitk(normalize_intensity(series.array).astype(np.float32), series.ijk_to_ras)
    if image.GetSize()[2] < min_slices:
        pad = min_slices - image.GetSize()[2]
        image = sitk.ZeroFluxNeumannPad(image, [0, 0, pad // 2], [0, 0, pad - pad // 2])
    spacing = np.array(image.GetSpacing())
    new = np.array([max(spacing[0], work_mm), max(spacing[1], work_mm), spacing[2]])
    if np.allclose(new, spacing):
        return image
    size = [max(int(round(n * s / t)), 1) for n, s, t in zip(image.GetSize(), spacing, new)]
    sigma = [float(np.sqrt(max(t ** 2 - s ** 2, 0.0)) / 2.355) if t > s else 0.0 for s, t in zip(spacing, new)]
    # anti-aliasing in-plane only (a discrete kernel: series of 1-3 slices are fine, unlike the recursive one)
    smooth = sitk.DiscreteGaussian(image, [v ** 2 for v in sigma], 32, 0.01, True) if max(sigma) > 0 else image
    origin = np.array(image.GetOrigin()) + np.array(image.GetDirection()).reshape(3, 3) @ ((new - spacing) / 2)
    return sitk.Resample(smooth, size, sitk.Transform(), sitk.sitkLinear, origin.tolist(), new.tolist(),
                         image.GetDirection(), 0.0, sitk.sitkFloat32)


def _method(settings: RegistrationSettings, iterations: int) -> sitk.ImageRegistrationMethod:
    reg = sitk.ImageRegistrationMethod()
    reg.SetMetricAsMattesMutualInformation(numberOfHistogramBins=settings.bins)
    reg.SetMetricSamplingStrategy(reg.RANDOM)
    reg.SetMetricSamplingPercentage(settings.sampling, settings.seed)
    reg.SetInterpolator(sitk.sitkLinear)
    reg.SetShrinkFactorsPerLevel(list(settings.shrink))
    reg.SetSmoothingSigmasPerLevel(list(settings.smoothing_mm))
    reg.SmoothingSigmasAreSpecifiedInPhysicalUnitsOn()
    return reg


def register(target: Series, reference: Series, settings: RegistrationSettings = SETTINGS) -> sitk.Transform:
    """The transform from `target` points to `reference` points (LPS mm): rigid, then B-spline."""
    slices = 4 * max(settings.shrink)
    fixed, moving = working_copy(target, settings.work_mm, slices), working_copy(reference, settings.work_mm, slices)
    centre = fixed.TransformContinuousIndexToPhysicalPoint([(n - 1) / 2.0 for n in fixed.GetSize()])
    rigid = sitk.Euler3DTransform()
    rigid.SetCenter(centre)
    reg = _method(settings, settings.rigid_iterations)
    reg.SetOptimizerAsRegularStepGradientDescent(learningRate=2.0, minStep=1e-3,
                                                 numberOfIterations=settings.rigid_iterations,
                                                 relaxationFactor=0.5)
    reg.SetOptimizerScalesFromPhysicalShift()
    reg.SetInitialTransform(rigid, inPlace=True)
    reg.Execute(fixed, moving)
    if settings.bspline_iterations <= 0:
        return sitk.CompositeTransform([rigid])
    extent = np.array(fixed.GetSize()) * np.array(fixed.GetSpacing())
    mesh = [max(int(round(e / settings.mesh_mm)), 1) for e in extent]
    bspline = sitk.BSplineTransformInitializer(fixed, mesh, 3)
    reg = _method(settings, settings.bspline_iterations)
    reg.SetOptimizerAsLBFGSB(gradientConvergenceTolerance=1e-5, numberOfIterations=settings.bspline_iterations,
                             maximumNumberOfCorrections=5,
                             maximumNumberOfFunctionEvaluations=4 * settings.bspline_iterations,
                             costFunctionConvergenceFactor=1e7)
    reg.SetMovingInitialTransform(rigid)
    reg.SetInitialTransform(bspline, inPlace=True)
    reg.Execute(fixed, moving)
    return sitk.CompositeTransform([rigid, bspline])  # applied last to first: B-spline, then rigid


def transfer_labels(labels: np.ndarray, reference: Series, target: Series, transform: sitk.Transform) -> np.ndarray:
    """Reference-grid labels (K, J, I) resampled onto the target grid through `transform` (nearest)."""
    labels = np.asarray(labels, dtype=np.uint8)
    if labels.shape != reference.shape:
        raise InputError(f"labels of shape {labels.shape} are not on the reference grid {reference.shape}")
    moving = to_sitk(labels, reference.ijk_to_ras)
    grid = to_sitk(np.zeros(target.shape, dtype=np.uint8), target.ijk_to_ras)
    out = sitk.Resample(moving, grid, transform, sitk.sitkNearestNeighbor, 0, sitk.sitkUInt8)
    return sitk.GetArrayFromImage(out).astype(np.uint8)


class RegisteredMethod:
    """Labels made on the reference (by `reference_labels`), carried to each target by registration."""

    name = "registration"
    weights_sha256 = None

    def __init__(self, reference_labels, settings: RegistrationSettings = SETTINGS, threads: int | None = None) -> None:
        self._make = reference_labels  # (reference, scribbles) -> (K, J, I) uint8 labels on the reference
        self.settings = settings
        self.threads = threads
        self._key: tuple | None = None
        self._labels: np.ndarray | None = None
        self.seconds: dict[str, float] = {}  # registration seconds per target (the rest is segmenting)

    def labels_on_reference(self, reference: Series, scribbles: np.ndarray) -> np.ndarray:
        key = (id(reference), id(scribbles))
        if key != self._key or self._labels is None:
            self._labels, self._key = np.asarray(self._make(reference, scribbles), dtype=np.uint8), key
        return self._labels

    def segment_target(self, reference: Series, scribbles: np.ndarray, target: Series, pairing=None,
                       cancel=None) -> np.ndarray:
        labels = self.labels_on_reference(reference, scribbles)
        if target is reference:
            return labels.copy()
        if self.threads:
            sitk.ProcessObject.SetGlobalDefaultNumberOfThreads(int(self.threads))
        tick = time.perf_counter()
        transform = register(target, reference, self.settings)
        self.seconds[target.name] = time.perf_counter() - tick
        return transfer_labels(labels, reference, target, transform)
