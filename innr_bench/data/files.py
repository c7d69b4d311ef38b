"""Your own data: an `image-folder` (torchvision's ImageFolder layout) or one `tensors` file
(.safetensors or .npz with x_train, y_train, x_test, y_test). Both become the same in-memory
Dataset as the built-ins, with a hash of exactly what was read; every malformed input is one
clear error naming the file and what is wrong."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Annotated

import numpy as np
import torch
from pydantic import Field

from innr_bench.data.datasets import Dataset, _from_uint8
from innr_bench.errors import ConfigError, CorruptArtifactError
from innr_bench.registry import DATASETS

SPLITS = ("x_train", "y_train", "x_test", "y_test")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm")


@DATASETS.register("tensors")
def tensors(*, path: str) -> Dataset:
    """Your arrays: one .safetensors or .npz file with x_train, y_train, x_test, y_test (pixels in [0, 1])."""
    file = Path(path).expanduser()
    arrays = _read_arrays(file)
    missing = [k for k in SPLITS if k not in arrays]
    if missing:
        raise ConfigError(f"{file}: lacks {', '.join(missing)}; it needs x_train, y_train, x_test, y_test")
    images = {split: _images(file, f"x_{split}", arrays[f"x_{split}"]) for split in ("train", "test")}
    labels = {split: _labels(file, f"y_{split}", arrays[f"y_{split}"]) for split in ("train", "test")}
    for split in ("train", "test"):
        if len(images[split]) == 0:
            raise ConfigError(f"{file}: x_{split} is empty; each split needs at least one example")
        if len(images[split]) != len(labels[split]):
            raise ConfigError(f"{file}: x_{split} has {len(images[split])} examples, y_{split} "
                              f"{len(labels[split])}; they must match")
    if images["train"].shape[1:] != images["test"].shape[1:]:
        raise ConfigError(f"{file}: train images are {tuple(images['train'].shape[1:])}, test images "
                          f"{tuple(images['test'].shape[1:])}; both splits need one shape")
    digest = hashlib.sha256()
    for value in (images["train"], labels["train"], images["test"], labels["test"]):
        digest.update(value.contiguous().numpy().tobytes())
    num_classes = int(max(labels["train"].max(), labels["test"].max())) + 1
    return Dataset(name=file.stem, train_x=images["train"], train_y=labels["train"], test_x=images["test"],
                   test_y=labels["test"], num_classes=num_classes, source=f"tensors:{file}",
                   sha256=digest.hexdigest())


def _read_arrays(file: Path) -> dict[str, np.ndarray]:
    if not file.is_file():
        raise ConfigError(f"dataset tensors: {file} not found; give the path of a .safetensors or .npz file")
    try:
        if file.suffix == ".npz":
            with np.load(file, allow_pickle=False) as found:
                return {k: found[k] for k in found.files}
        if file.suffix == ".safetensors":
            from safetensors.numpy import load_file

            return load_file(str(file))
    except Exception as error:  # numpy's and safetensors' errors differ; each means unreadable
        raise CorruptArtifactError(f"{file}: not a readable {file.suffix} file ({type(error).__name__}: "
                                   f"{error})") from None
    raise ConfigError(f"{file}: a tensors dataset is a .safetensors or .npz file, "
                      f"not {file.suffix or 'no suffix'}")


def _images(file: Path, key: str, array: np.ndarray) -> torch.Tensor:
    """N x C x H x W float32 in [0, 1] (uint8 pixels are divided by 255; N x H x W is one channel)."""
    if array.ndim == 3:
        array = array[:, None]
    if array.ndim != 4:
        raise ConfigError(f"{file}: {key} has shape {array.shape}; images are N x C x H x W (or N x H x W)")
    if array.dtype == np.uint8:
        return torch.from_numpy(array.astype(np.float32) / 255.0)
    if not np.issubdtype(array.dtype, np.floating):
        raise ConfigError(f"{file}: {key} is {array.dtype}; pixels are floats in [0, 1] (or uint8 0-255)")
    pixels = torch.from_numpy(np.ascontiguousarray(array, dtype=np.float32))
    if pixels.numel() and not (bool(torch.isfinite(pixels).all()) and float(pixels.min()) >= 0
                               and float(pixels.max()) <= 1):
        raise ConfigError(f"{file}: {key} has values in [{float(pixels.min()):g}, {float(pixels.max()):g}]; "
                          "pixels must lie in [0, 1] (normalization belongs inside the model)")
    return pixels


def _labels(file: Path, key: str, array: np.ndarray) -> torch.Tensor:
    if array.ndim != 1 or not np.issubdtype(array.dtype, np.integer):
        raise ConfigError(f"{file}: {key} is {array.dtype} of shape {array.shape}; labels are one integer "
                          "class index per example")
    if array.size and int(array.min()) < 0:
        raise ConfigError(f"{file}: {key} has label {int(array.min())}; labels are class indices 0..C-1")
    return torch.from_numpy(array.astype(np.int64))


@DATASETS.register("image-folder")
def image_folder(
    *,
    root: str,
    image_size: Annotated[int, Field(gt=0)],  # every image is resized to image_size x image_size
    channels: Annotated[int, Field(ge=1, le=4)] = 3,  # 1: grey, 3: RGB
    train: str = "train",  # subfolders of root in torchvision's ImageFolder layout: <split>/<class>/<image>
    test: str = "test",
) -> Dataset:
    """Your images: root/train/<class>/*.png and root/test/<class>/*.png, resized, pixels in [0, 1]."""
    base = Path(root).expanduser()
    if not base.is_dir():
        raise ConfigError(f"dataset image-folder: root {base} is not a directory")
    splits = {split: _folder(base / folder, image_size, channels) for split, folder in
              (("train", train), ("test", test))}
    train_classes, test_classes = splits["train"][2], splits["test"][2]
    if train_classes != test_classes:
        only = sorted(set(train_classes) ^ set(test_classes))
        raise ConfigError(f"{base}: the train and test folders name different classes ({', '.join(only)} "
                          "in one only); both need the same class folders")
    arrays = {"train_x": splits["train"][0], "train_y": splits["train"][1],
              "test_x": splits["test"][0], "test_y": splits["test"][1]}
    return _from_uint8(base.name, arrays, source=f"image-folder:{base}")


def _folder(folder: Path, size: int, channels: int) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """uint8 images (N x H x W or N x H x W x C), labels and the class names of one split."""
    from PIL import Image, UnidentifiedImageError

    if not folder.is_dir():
        raise ConfigError(f"dataset image-folder: {folder} is not a directory "
                          "(expected <root>/<split>/<class>/)")
    classes = sorted(p.name for p in folder.iterdir() if p.is_dir())
    if not classes:
        raise ConfigError(f"{folder}: no class folders; images go in {folder}/<class>/<image>")
    mode = {1: "L", 3: "RGB", 4: "RGBA"}.get(channels)
    if mode is None:
        raise ConfigError(f"dataset image-folder: channels {channels} is not 1, 3 or 4")
    images, labels = [], []
    for index, name in enumerate(classes):
        for file in sorted(p for p in (folder / name).iterdir() if p.suffix.lower() in IMAGE_SUFFIXES):
            try:
                with Image.open(file) as image:
                    image = image.convert(mode).resize((size, size), Image.BILINEAR)
                    images.append(np.asarray(image, dtype=np.uint8))
            except (UnidentifiedImageError, OSError) as error:
                raise CorruptArtifactError(f"{file}: not a readable image ({error})") from None
            labels.append(index)
    if not images:
        raise ConfigError(f"{folder}: no images (looked for {', '.join(IMAGE_SUFFIXES)} "
                          "in its class folders)")
    return np.stack(images), np.asarray(labels, dtype=np.uint8 if len(classes) <= 256 else np.int64), classes
