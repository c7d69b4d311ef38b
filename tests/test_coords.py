from __future__ import annotations

import torch

from innr_bench.compress.innr.coords import coordinates, standardize, tensor_coordinates, unstandardize


def test_conv_coordinates_exact_values() -> None:
    coords = tensor_coordinates((2, 1, 1, 3))
    expected = torch.tensor([
        [-1.0, -1.0, -1.0, -1.0], [-1.0, -1.0, -1.0, 0.0], [-1.0, -1.0, -1.0, 1.0],
        [1.0, -1.0, -1.0, -1.0], [1.0, -1.0, -1.0, 0.0], [1.0, -1.0, -1.0, 1.0],
    ])  # size-1 axes (cin, kh) map to -1: linspace(-1, 1, 1) == [-1]
    assert torch.equal(coords, expected)


def test_linear_and_bias_coordinates_pad_with_zeros() -> None:
    assert torch.equal(tensor_coordinates((2, 3)), torch.tensor([
        [-1.0, -1.0, 0.0, 0.0], [-1.0, 0.0, 0.0, 0.0], [-1.0, 1.0, 0.0, 0.0],
        [1.0, -1.0, 0.0, 0.0], [1.0, 0.0, 0.0, 0.0], [1.0, 1.0, 0.0, 0.0],
    ]))
    assert torch.equal(tensor_coordinates((3,)), torch.tensor([
        [-1.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0], [1.0, 0.0, 0.0, 0.0],
    ]))


def test_layer_coordinate_is_last_and_spans_the_parameters() -> None:
    coords = coordinates([(1, 1, 1, 2), (1, 2), (2,)])
    assert coords.shape == (6, 5)
    assert torch.equal(coords[:, 4], torch.tensor([-1.0, -1.0, 0.0, 0.0, 1.0, 1.0]))
    assert torch.equal(coords[4], torch.tensor([-1.0, 0.0, 0.0, 0.0, 1.0]))


def test_single_parameter_layer_coordinate_is_minus_one() -> None:
    assert torch.equal(coordinates([(2,)])[:, 4], torch.tensor([-1.0, -1.0]))


def test_coordinates_of_the_seed_cnn_cover_every_weight() -> None:
    shapes = [(32, 1, 5, 5), (64, 32, 5, 5), (10, 1024)]
    coords = coordinates(shapes)
    assert coords.shape == (62_240, 5)
    assert coords.min() == -1.0 and coords.max() == 1.0


def test_standardize_uses_one_global_unbiased_std_and_inverts() -> None:
    weights = [torch.tensor([[1.0, 2.0]]), torch.tensor([3.0, 4.0])]
    values, mean, std = standardize(weights)
    assert mean == 2.5
    assert abs(std - torch.tensor([1.0, 2, 3, 4]).std(unbiased=True).item()) < 1e-7
    assert abs(values.mean().item()) < 1e-7 and abs(values.std().item() - 1) < 1e-6
    assert torch.allclose(unstandardize(values, mean, std), torch.tensor([1.0, 2, 3, 4]))
