"""`tinyattend search`'s data and space: reading, checks, the split, and the errors a user sees (no Ray here)."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from tinyattend.errors import DataError, OptionError
from tinyattend.resources import demo_model_file
from tinyattend.search.data import load_dataset
from tinyattend.search.space import DEFAULT_SPACE, load_space


def _images(n_per_class: int, classes: int, size: int = 12, channels_last: bool = True, seed: int = 0):
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 256, size=(n_per_class * classes, size, size, 1), dtype=np.uint8)
    y = np.repeat(np.arange(classes), n_per_class)
    return (x if channels_last else np.transpose(x, (0, 3, 1, 2))), y


def test_digits_split_is_the_demo_models_held_out_set():
    data = load_dataset("digits")
    held_out = np.load(demo_model_file("attendnext_digits_test.npz"))
    assert data.shape == (3, 32, 32) and data.num_classes == 10
    assert len(data.x_train) == 1347 and len(data.x_test) == 450
    np.testing.assert_array_equal(data.x_test, held_out["x"])
    np.testing.assert_array_equal(data.y_test, held_out["y"])


def test_npz_in_either_layout_gives_the_same_stratified_split(tmp_path):
    x, y = _images(8, 3)
    np.savez(tmp_path / "nhwc.npz", x=x, y=y + 5)                    # labels need not start at 0
    np.savez(tmp_path / "nchw.npz", x=np.transpose(x, (0, 3, 1, 2)), y=y + 5)
    a, b = load_dataset(str(tmp_path / "nhwc.npz")), load_dataset(str(tmp_path / "nchw.npz"))
    assert a.shape == (1, 12, 12) and a.class_names == ("5", "6", "7")
    np.testing.assert_array_equal(a.x_test, b.x_test)
    assert a.x_train.dtype == np.float32 and a.x_train.max() <= 1.0
    assert np.bincount(a.y_test).tolist() == [2, 2, 2]            # 25% of each class, held out
    assert not set(map(bytes, a.x_test)) & set(map(bytes, a.x_train))


def test_image_folder_per_class(tmp_path):
    from PIL import Image
    x, y = _images(6, 2, size=10)
    for i, (image, label) in enumerate(zip(x, y)):
        folder = tmp_path / ("cat" if label else "dog")
        folder.mkdir(exist_ok=True)
        Image.fromarray(image[..., 0]).save(folder / f"{i}.png")
    data = load_dataset(str(tmp_path))
    assert data.class_names == ("cat", "dog") and data.shape == (1, 10, 10)
    assert len(data.x_train) + len(data.x_test) == 12


@pytest.mark.parametrize("case, message", [
    ("one_class", "only one class"),
    ("few", "too few samples in class(es) 1 (3)"),
    ("flat", "images are N x H x W x C"),
    ("labels", "one label per image"),
    ("channels", "neither its last nor its second axis"),
    ("nan", "NaN"),
    ("tiny", "images are 4x4"),
    ("keys", "no array named y"),
])
def test_bad_npz_data_is_refused_with_the_reason(tmp_path, case, message):
    x, y = _images(8, 2)
    arrays = {"one_class": dict(x=x, y=np.zeros_like(y)),
              "few": dict(x=x[:11], y=y[:11]),
              "flat": dict(x=x.reshape(len(x), -1), y=y),
              "labels": dict(x=x, y=y[:-1]),
              "channels": dict(x=np.repeat(x, 5, axis=3), y=y),
              "nan": dict(x=np.full(x.shape, np.nan, np.float32), y=y),
              "tiny": dict(x=x[:, :4, :4], y=y),
              "keys": dict(x=x)}[case]
    np.savez(tmp_path / "d.npz", **arrays)
    with pytest.raises(DataError, match=message.replace("(", r"\(").replace(")", r"\)")) as info:
        load_dataset(str(tmp_path / "d.npz"))
    assert info.value.fix


def test_unreadable_image_and_mixed_sizes_name_the_file(tmp_path):
    from PIL import Image
    for label in ("a", "b"):
        (tmp_path / label).mkdir()
        for i in range(5):
            Image.fromarray(np.zeros((9, 9), np.uint8)).save(tmp_path / label / f"{i}.png")
    (tmp_path / "b" / "broken.png").write_bytes(b"not a png")
    with pytest.raises(DataError, match="broken.png: cannot be read"):
        load_dataset(str(tmp_path))
    (tmp_path / "b" / "broken.png").unlink()
    Image.fromarray(np.zeros((9, 11), np.uint8)).save(tmp_path / "b" / "wide.png")
    with pytest.raises(DataError, match="wide.png: 11x9 pixels, other images are 9x9"):
        load_dataset(str(tmp_path))


def test_cli_bad_data_is_a_clear_error_and_writes_nothing(tmp_path):
    x, y = _images(8, 1)
    np.savez(tmp_path / "one.npz", x=x, y=y)
    out = tmp_path / "out"
    run = subprocess.run([sys.executable, "-m", "tinyattend", "search", "--data", str(tmp_path / "one.npz"),
                          "--trials", "2", "-o", str(out)], capture_output=True, text=True, timeout=120)
    assert run.returncode == 2, run.stderr
    assert "error:" in run.stderr and "only one class" in run.stderr and "fix:" in run.stderr
    assert "Traceback" not in run.stderr and not out.exists()


def test_user_space_yaml_replaces_the_keys_it_names(tmp_path):
    path = tmp_path / "space.yaml"
    path.write_text("stages: [2]\nwidths: [[8], [16, 24]]\ncondenser: [none, dcac]\nstem: [8]\n")
    space = load_space(path)
    assert space.stages == (2,) and space.widths == ((8,), (16, 24)) and space.condenser == ("none", "dcac")
    assert space.head == DEFAULT_SPACE.head
    smallest = space.smallest()
    assert [s.width for s in smallest.stages] == [8, 16] and smallest.stages[0].condenser == "none"


@pytest.mark.parametrize("text, message", [
    ("stem: 8\n", "stem must be a non-empty list"),
    ("depths: [1]\n", "unknown key"),
    ("condenser: [dcac, spam]\n", "condenser choices must be among"),
    ("stages: [5]\n", "up to 5 stages, but widths has 4 lists"),
    ("expand: [0]\n", "expand has 0"),
    ("stem: [8, 8]\n", "repeats a choice"),
    ("[1, 2]\n", "a search space is a mapping"),
    ("stem: [8\n", "not valid YAML"),
])
def test_bad_space_yaml_names_the_key(tmp_path, text, message):
    path = tmp_path / "space.yaml"
    path.write_text(text)
    with pytest.raises(OptionError, match=message):
        load_space(path)


def test_sampled_architectures_build_and_describe_what_was_built():
    torch = pytest.importorskip("torch", reason="torch (requirements-zoo.lock) builds the candidates")
    import optuna

    from tinyattend.search.space import Architecture
    from tinyattend.zoo.searchnet import SearchNet
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(directions=["maximize", "minimize"], sampler=optuna.samplers.RandomSampler(seed=1))
    for _ in range(4):
        arch = DEFAULT_SPACE.sample(study.ask())
        assert Architecture.from_dict(arch.to_dict()) == arch
        model = SearchNet(arch.to_dict(), 7, 1, 24, 20).eval()
        assert model(torch.zeros(2, 1, 24, 20)).shape == (2, 7)
        assert len(model.condensers) == len(arch.stages)
    # A dcac asked for on a 6x6 map (24 / 2 / 2) is built as a vac: the description says so.
    spec = DEFAULT_SPACE.smallest().to_dict()
    spec.update(downsample=2, stem_stride=2)
    spec["stages"][0].update(condenser="dcac")
    model = SearchNet(spec, 3, 1, 24, 24)
    assert model.condensers[0] == "vac"
    assert "vac/8" in Architecture.from_dict(spec).describe(tuple(model.condensers))
