"""Read a series from NIfTI, NRRD/MHA or a DICOM folder into a `Series` (RAS geometry)."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import numpy as np

from ..errors import InputError
from ..series import Series

log = logging.getLogger("crossmr")

NIFTI_SUFFIXES = (".nii.gz", ".nii")
ITK_SUFFIXES = (".seg.nrrd", ".nrrd", ".nhdr", ".mha", ".mhd")
LPS_TO_RAS = np.diag([-1.0, -1.0, 1.0, 1.0])


def series_name(path: str | Path) -> str:
    """File name without extension(s) ("t1w.nii.gz" -> "t1w"), or the folder name for DICOM."""
    path = Path(path)
    if path.is_dir():
        return path.name
    name = path.name
    for suffix in (".labels.nii.gz",) + NIFTI_SUFFIXES + ITK_SUFFIXES:
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return path.stem


def read_series(path: str | Path, volume: int | None = None, modality: str | None = None) -> Series:
    """Read one 3D series. 4D input: `volume` picks a volume, else the highest b-value (see docs).

    Non-finite voxels are replaced by the lowest finite value (with a warning). A 2D image becomes a
    single-slice series.
    """
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: no such file or folder; check the path")
    if path.is_dir():
        return _read_dicom_folder(path, volume, modality)
    try:
        if path.name.lower().endswith(NIFTI_SUFFIXES):
            array4, ijk_to_ras, bvalues = _read_nifti(path)
        elif path.name.lower().endswith(ITK_SUFFIXES):
            array4, ijk_to_ras, bvalues = _read_itk(path)
        else:
            raise InputError(f"{path}: unsupported file type; give a NIfTI (.nii/.nii.gz), NRRD, MHA file or a DICOM folder")
    except InputError:
        raise
    except Exception as exc:  # readers raise many types for damaged files
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputError(f"{path}: cannot be read as an image ({first_line}); check that the file is complete") from exc
    array = pick_volume(array4, bvalues, volume, path)
    array = replace_non_finite(array, path)
    return Series(array, ijk_to_ras, series_name(path), modality, {"path": str(path)})


def pick_volume(array4: np.ndarray, bvalues: list[float] | None, volume: int | None, path: Path) -> np.ndarray:
    """array4 is (T, K, J, I); choose one volume (`volume`, else the highest b-value, else the darkest)."""
    count = array4.shape[0]
    if volume is not None:
        if not 0 <= volume < count:
            raise InputError(f"{path}: --volume {volume} is out of range; the file holds {count} volume(s) (0..{count - 1})")
        return array4[volume]
    if count == 1:
        return array4[0]
    if bvalues is not None and len(bvalues) == count:
        index = int(np.argmax(bvalues))
        log.warning("%s holds %d volumes; using volume %d (highest b-value, b=%g); choose another with --volume",
                    path.name, count, index, bvalues[index])
        return array4[index]
    means = [float(np.nanmean(v)) for v in array4]
    index = int(np.argmin(means))
    log.warning("%s holds %d volumes and no b-values; using volume %d (lowest mean signal, i.e. the most "
                "diffusion-weighted); choose another with --volume", path.name, count, index)
    return array4[index]


def replace_non_finite(array: np.ndarray, path: Path) -> np.ndarray:
    """NaN/infinite voxels -> the lowest finite value (with a warning)."""
    array = np.asarray(array)
    if not np.issubdtype(array.dtype, np.floating):
        return array
    bad = ~np.isfinite(array)
    if bad.all():
        raise InputError(f"{path}: every voxel is NaN or infinite; re-export the series")
    if bad.any():
        log.warning("%s: %d NaN/infinite voxel(s) replaced by the lowest finite value", path.name, int(bad.sum()))
        array = array.copy()
        array[bad] = array[~bad].min()
    return array


def _bvalues_beside(path: Path) -> list[float] | None:
    """FSL-style b-values file next to the image (`name.bval` or `name.bvals`)."""
    base = series_name(path)
    for suffix in (".bval", ".bvals"):
        candidate = path.with_name(base + suffix)
        if candidate.is_file():
            try:
                return [float(v) for v in candidate.read_text().split()]
            except ValueError:
                raise InputError(f"{candidate}: b-values must be numbers separated by spaces") from None
    return None


def _read_nifti(path: Path) -> tuple[np.ndarray, np.ndarray, list[float] | None]:
    import nibabel as nib

    image = nib.load(str(path))
    data = np.asanyarray(image.dataobj)
    if data.ndim == 2:
        data = data[:, :, None]
    if data.ndim == 5 and data.shape[3] == 1:
        data = data[:, :, :, 0, :]
    if data.ndim == 3:
        data = data[..., None]
    if data.ndim != 4:
        raise InputError(f"{path}: {data.ndim}D image; CrossMR needs 3D series (or 4D with one volume per b-value)")
    array4 = np.ascontiguousarray(np.transpose(data, (3, 2, 1, 0)))
    return array4, np.asarray(image.affine, dtype=np.float64), _bvalues_beside(path)


def _itk_to_ras(image) -> np.ndarray:
    dim = image.GetDimension()
    direction = np.asarray(image.GetDirection(), dtype=np.float64).reshape(dim, dim)[:3, :3]
    spacing = np.asarray(image.GetSpacing(), dtype=np.float64)[:3]
    matrix = np.eye(4)
    matrix[:3, :3] = direction * spacing[None, :]
    matrix[:3, 3] = np.asarray(image.GetOrigin(), dtype=np.float64)[:3]
    return LPS_TO_RAS @ matrix


def _itk_array4(image) -> np.ndarray:
    import SimpleITK as sitk

    dim = image.GetDimension()
    components = image.GetNumberOfComponentsPerPixel()
    array = sitk.GetArrayFromImage(image)
    if dim == 2:
        array = array[None] if components == 1 else array[None]
        dim = 3
    if dim == 3 and components == 1:
        return array[None]
    if dim == 3:  # vector image (K, J, I, C): one volume per component
        return np.ascontiguousarray(np.moveaxis(array, -1, 0))
    if dim == 4 and components == 1:  # (T, K, J, I)
        return array
    raise ValueError(f"unsupported image layout ({dim}D, {components} components)")


def _bvalues_from_header(path: Path) -> list[float] | None:
    """b-values from an NRRD DWMRI header (DWMRI_b-value and gradient norms), if present."""
    if not path.name.lower().endswith((".nrrd", ".nhdr")):
        return None
    import nrrd

    header = nrrd.read_header(str(path))
    if "DWMRI_b-value" not in header:
        return None
    b_max = float(header["DWMRI_b-value"])
    gradients = []
    for key in sorted((k for k in header if re.fullmatch(r"DWMRI_gradient_\d+", k)), key=lambda k: int(k.rsplit("_", 1)[1])):
        gradients.append(np.asarray(header[key].split(), dtype=float))
    return [b_max * float(np.dot(g, g)) for g in gradients] or None


def _read_itk(path: Path) -> tuple[np.ndarray, np.ndarray, list[float] | None]:
    import SimpleITK as sitk

    image = sitk.ReadImage(str(path))
    return _itk_array4(image), _itk_to_ras(image), _bvalues_from_header(path) or _bvalues_beside(path)


def _read_dicom_folder(path: Path, volume: int | None, modality: str | None) -> Series:
    """A folder (any nesting) holding exactly one DICOM image series; named after the folder."""
    from ..dicom.load import load_series
    from ..dicom.scan import scan_study

    found = scan_study(path)
    if not found:
        raise InputError(f"{path}: folder holds no DICOM series; give a DICOM series folder or an image file")
    if len(found) > 1:
        raise InputError(f"{path}: folder holds {len(found)} DICOM series; choose them with --reference SERIES "
                         f"[--targets SERIES...|all] (list them with: crossmr series {path})")
    series = load_series(found[0], volume, name=path.name)
    series.modality = modality
    series.meta["path"] = str(path)
    return series
