"""Domain-randomised training images (CrossMRLib.synth): deterministic per seed, labels that match the image,
contrasts that differ between draws; and the never-seen-contrast protocol: no real image reaches
`train.py --no-chaos`."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
from scipy import ndimage

from CrossMRLib.io import write_labels_nifti, write_series_nifti
from CrossMRLib.model.data import TRAIN_SUBJECTS, PairSampler, Volume
from CrossMRLib.model.sources import BODIES_PER_SUBJECT, CHAOS_SHARE, SYNTHETIC_BODY_SHARE, training_volumes
from CrossMRLib.phantom.anatomy import LABEL_OF_TISSUE
from CrossMRLib.phantom.tissues import CODE
from CrossMRLib.synth import RandomContrast, body_tissues, render
from synthetic import grid, labels_on, make_series

ROOT = Path(__file__).resolve().parents[1]
SHAPE = (12, 64, 64)


@pytest.fixture(scope="module")
def labels() -> np.ndarray:
    """Four ellipsoid organs in RAS (liver right-anterior-superior of the kidneys), 5 x 5 x 6 mm voxels."""
    return labels_on(grid(SHAPE), SHAPE)


@pytest.fixture(scope="module")
def tissues(labels) -> np.ndarray:
    return body_tissues(labels, (5.0, 5.0), 6.0, seed=3)


def test_synthetic_body_keeps_every_organ_voxel_and_is_the_same_for_a_seed(labels, tissues):
    """The organs of the tissue map are exactly the given label map (image and labels always agree); the body
    around them has fat, muscle, spine and bowel; a seed gives the same body, another seed another one."""
    organ = LABEL_OF_TISSUE[tissues]
    assert np.array_equal(organ > 0, labels > 0)
    assert np.array_equal(organ == 1, labels == 1) and np.array_equal(organ == 4, labels == 4)
    assert np.array_equal(np.isin(organ, (2,)), np.isin(labels, (2, 3)))  # kidney tissues, side from the labels
    present = set(np.unique(tissues))
    for name in ("subcutaneous fat", "muscle", "visceral fat", "vertebral marrow", "aorta", "kidney cortex",
                 "kidney medulla", "bowel wall"):
        assert CODE[name] in present, name
    assert (tissues[:, 0, 0] == CODE["air"]).all()
    assert np.array_equal(tissues, body_tissues(labels, (5.0, 5.0), 6.0, seed=3))
    assert not np.array_equal(tissues, body_tissues(labels, (5.0, 5.0), 6.0, seed=4))


def test_a_rendered_contrast_is_the_same_for_a_seed_and_lies_in_unit_range(tissues):
    k = SHAPE[0] // 2

    def draw(seed: int) -> np.ndarray:
        rng = np.random.default_rng(seed)
        return render(tissues, k, RandomContrast(rng), rng)

    image = draw(1)
    assert image.shape == SHAPE[1:] and image.dtype == np.float32
    assert image.min() >= 0.0 and image.max() <= 1.0
    assert np.array_equal(image, draw(1))
    assert not np.array_equal(image, draw(2))


def _organ_means(image: np.ndarray, tissue: np.ndarray) -> dict[int, float]:
    """Mean intensity of each organ tissue away from its edge (liver, spleen)."""
    out = {}
    for code in (CODE["liver"], CODE["spleen"]):
        core = ndimage.binary_erosion(tissue == code, iterations=2)
        out[code] = float(image[core].mean())
    return out


def test_the_image_follows_its_tissue_map_and_contrasts_differ_between_draws(tissues):
    """Whichever of liver and spleen a draw makes brighter is brighter in its noise-free image, and in most
    acquired images (a strong bias field may flip a few): the image is made from the labels. Two draws give
    different organ intensities (the contrast is random)."""
    k = int(np.argmax([(t == CODE["spleen"]).sum() for t in tissues]))
    clean_agree, agree, ordered, liver_means = 0, 0, 0, []
    for seed in range(40):
        rng = np.random.default_rng(seed)
        contrast = RandomContrast(rng)
        gap = contrast.means[CODE["liver"]] - contrast.means[CODE["spleen"]]
        clean = _organ_means(contrast.tissue_image(tissues[k]), tissues[k])
        means = _organ_means(render(tissues, k, contrast, rng), tissues[k])
        liver_means.append(means[CODE["liver"]])
        if abs(gap) > 0.4:
            ordered += 1
            clean_agree += np.sign(gap) == np.sign(clean[CODE["liver"]] - clean[CODE["spleen"]])
            agree += np.sign(gap) == np.sign(means[CODE["liver"]] - means[CODE["spleen"]])
    assert ordered >= 8 and clean_agree == ordered and agree >= 0.75 * ordered, (clean_agree, agree, ordered)
    assert np.std(liver_means) > 0.1  # the liver is dark in some draws, bright in others


def test_pairs_of_an_image_free_volume_are_two_random_contrasts_of_its_anatomy(labels, tissues):
    """A volume holding only labels and tissues trains on rendered images: the reference and target of a pair
    differ in contrast, the target masks are the target slice's organs, and a seed repeats the pairs."""
    positions = np.arange(SHAPE[0]) * 6.0
    vol = Volume("masks", {}, {"synth": labels}, {"synth": positions}, (5.0, 5.0), tissues={"synth": tissues})
    batch = PairSampler([vol], 64, seed=3).batch(6)
    assert batch["reference"].shape == (6, 1, 64, 64) and batch["masks"].shape == (6, 4, 64, 64)
    assert float(batch["reference"].min()) >= 0.0 and float(batch["reference"].max()) <= 1.0
    assert batch["masks"].sum() > 0
    assert not np.allclose(batch["reference"].numpy(), batch["target"].numpy())
    again = PairSampler([vol], 64, seed=3).batch(6)
    assert all(np.array_equal(batch[key].numpy(), again[key].numpy()) for key in batch)


def _fake_chaos(root: Path) -> None:
    """A CHAOS-like folder (patient_NN/T2SPIR/image.nii.gz + label.nii.gz) for the training subjects."""
    for n, subject in enumerate(TRAIN_SUBJECTS):
        image, label = make_series("t2spir", shape_kji=(10, 48, 48), spacing=(6.0, 6.0, 7.0), seed=n)
        folder = root / f"patient_{subject}" / "T2SPIR"
        folder.mkdir(parents=True)
        write_series_nifti(image, folder / "image.nii.gz")
        write_labels_nifti(label.array, image, folder / "label.nii.gz")


def _volumes_seen_by_training(argv: list[str], monkeypatch) -> tuple[list[Volume], list[str]]:
    """Run train.py's main with `argv`, recording every file the readers open and the volumes handed to
    training (which is not run)."""
    import CrossMRLib.io.readers as readers

    spec = importlib.util.spec_from_file_location("crossmr_train_protocol", ROOT / "train" / "train.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    opened: list[str] = []
    read = readers.read_series
    monkeypatch.setattr(readers, "read_series", lambda path, *a, **k: (opened.append(str(path)), read(path, *a, **k))[1])
    seen: list[Volume] = []
    monkeypatch.setattr(script, "train", lambda settings, volumes, *a, **k: seen.extend(volumes))
    assert script.main(argv) == 0
    return seen, opened


def test_no_chaos_training_never_reads_a_real_image(tmp_path, monkeypatch):
    """`train.py --no-chaos` (the 'real contrast never seen in training' row) reads the CHAOS label maps only:
    no image file is opened and no volume holds an image; the default recipe does read and train on them."""
    _fake_chaos(tmp_path / "chaos")
    common = ["--steps", "1", "--phantoms", "0", "--size", "32", "--chaos", str(tmp_path / "chaos"),
              "--out", str(tmp_path / "run"), "--no-calibrate"]
    volumes, opened = _volumes_seen_by_training([*common, "--no-chaos"], monkeypatch)
    assert len(volumes) == len(TRAIN_SUBJECTS) * BODIES_PER_SUBJECT and opened
    assert all(path.endswith("label.nii.gz") for path in opened), opened
    assert all(not vol.images and vol.tissues for vol in volumes)
    monkeypatch.undo()
    volumes, opened = _volumes_seen_by_training(common, monkeypatch)
    assert any(path.endswith("image.nii.gz") for path in opened)
    assert sum(bool(vol.images) for vol in volumes) == len(TRAIN_SUBJECTS)


def _draw_shares(volumes: list[Volume], draws: int = 20000) -> dict[str, float]:
    """Fraction of sampled pairs per source: real image, synthetic body, generated study."""
    sampler = PairSampler(volumes, 32, seed=0)
    counts = {"real": 0, "body": 0, "generated": 0}
    for _ in range(draws):
        vol = volumes[sampler.draw_volume()]
        counts["generated" if vol.name.startswith("phantom") else "real" if vol.images else "body"] += 1
    return {k: v / draws for k, v in counts.items()}


def test_sources_get_the_recipe_shares_and_no_chaos_turns_real_pairs_into_synthetic_bodies(tmp_path, monkeypatch):
    """The recipe's shares hold whatever the number of subjects and studies; leaving real images out gives
    their pairs to synthetic bodies of the same label maps, not to the generated studies."""
    import CrossMRLib.model.sources as sources

    _fake_chaos(tmp_path / "chaos")
    phantom = Volume("phantom_1000", {"t1w": np.zeros((2, 8, 8), np.float32)}, {"t1w": np.ones((2, 8, 8), np.uint8)},
                     {"t1w": np.arange(2.0)}, (1.0, 1.0))
    monkeypatch.setattr(sources, "load_phantoms", lambda count, *a: [phantom.__class__(**{**phantom.__dict__})
                                                                      for _ in range(count)])
    subjects = TRAIN_SUBJECTS[:3]
    shares = _draw_shares(training_volumes(subjects, 7, 32, tmp_path / "chaos", None))
    assert shares["real"] == pytest.approx(CHAOS_SHARE * (1 - SYNTHETIC_BODY_SHARE), abs=0.015)
    assert shares["body"] == pytest.approx(CHAOS_SHARE * SYNTHETIC_BODY_SHARE, abs=0.015)
    never_seen = _draw_shares(training_volumes(subjects, 7, 32, tmp_path / "chaos", None, no_chaos=True))
    assert never_seen["real"] == 0 and never_seen["body"] == pytest.approx(CHAOS_SHARE, abs=0.015)
    assert never_seen["generated"] == pytest.approx(shares["generated"], abs=0.015)
