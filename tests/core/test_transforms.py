"""Named training augmentations (reid_bench.data.transforms): ``resize_crop`` (CCAN Sec. 4.1)."""
import numpy as np
import pytest
import torch
from PIL import Image
from torchvision import transforms as T

from reid_bench import Augment, LRSchedule, OptimizerSpec, Recipe, SamplerSpec, Stage
from reid_bench.data.transforms import build_train_transform

STAGE = Stage(1, 8, SamplerSpec("random"), OptimizerSpec("sgd", lr=0.1), LRSchedule())


def recipe(*augments, input_size=(64, 32)):
    # mean 0, std 1: the transform's output is ToTensor of the PIL stage, easy to compare
    return Recipe("test", (STAGE,), input_size=input_size, train_transforms=augments,
                  norm_mean=(0.0, 0.0, 0.0), norm_std=(1.0, 1.0, 1.0))


def noise_image(height, width, seed=0):
    pixels = np.random.default_rng(seed).integers(0, 256, size=(height, width, 3), dtype=np.uint8)
    return Image.fromarray(pixels)


def crop_offset(output, resized, height, width):
    """The ``(top, left)`` at which ``output`` is a crop of ``resized`` (both ``(3, H, W)``), or None."""
    for top in range(resized.shape[1] - height + 1):
        for left in range(resized.shape[2] - width + 1):
            if torch.allclose(output, resized[:, top:top + height, left:left + width], atol=1e-6):
                return top, left
    return None


@pytest.mark.parametrize("input_size, enlarged", [((64, 32), (72, 36)), ((256, 128), (288, 144))])
def test_resize_crop_resizes_the_original_by_1_125_and_always_crops_the_input_size(input_size, enlarged):
    torch.manual_seed(0)
    height, width = input_size
    image = noise_image(101, 47)  # neither the input size nor its aspect ratio
    transform = build_train_transform(recipe(Augment("resize_crop"), input_size=input_size), input_size)
    # the original goes straight to the enlarged size: no resize to the input size in front
    resized = T.ToTensor()(T.Resize(enlarged)(image))
    plain = T.ToTensor()(T.Resize(input_size)(image))
    offsets = []
    for _ in range(12):
        output = transform(image)
        assert output.shape == (3, height, width)
        offset = crop_offset(output, resized, height, width)
        assert offset is not None, "the output is not a crop of the 1.125x resize of the original"
        offsets.append(offset)
        # every draw is a crop: never the plain resize (what Random2DTranslation returns with p = 0.5)
        assert (output - plain).abs().mean() > 0.05
    tops, lefts = zip(*offsets)
    assert max(tops) <= enlarged[0] - height and max(lefts) <= enlarged[1] - width
    assert len(set(offsets)) > 3  # random position

def test_resize_crop_factor_is_a_parameter_relative_to_the_input_size():
    transform = build_train_transform(recipe(Augment("resize_crop", {"factor": 1.25})), (64, 32))
    resize, crop = transform.steps[0][0].transforms
    assert tuple(resize.size) == (80, 40) and tuple(crop.size) == (64, 32)
    assert transform(noise_image(90, 30)).shape == (3, 64, 32)


def test_resize_crop_refuses_a_late_start_and_a_shrinking_factor():
    with pytest.raises(ValueError, match="epoch 0"):
        build_train_transform(recipe(Augment("resize_crop", start_epoch=3)), (64, 32))
    with pytest.raises(ValueError, match="factor"):
        build_train_transform(recipe(Augment("resize_crop", {"factor": 0.9})), (64, 32))


def test_without_a_resizing_augmentation_the_image_is_resized_to_the_input_size_first():
    transform = build_train_transform(recipe(Augment("random_flip")), (64, 32))
    assert isinstance(transform.steps[0][0], T.Resize) and tuple(transform.steps[0][0].size) == (64, 32)
    assert transform(noise_image(101, 47)).shape == (3, 64, 32)


def test_pad_crop_padding_scales_with_the_input_width_when_given_for_a_reference():
    from reid_bench.data.transforms import pad_crop_padding

    bag_of_tricks = {"padding": 10, "reference_width": 128}
    assert [pad_crop_padding(bag_of_tricks, width) for width in (128, 64, 32, 8)] == [10, 5, 3, 1]
    assert pad_crop_padding({"padding": 4}, 32) == pad_crop_padding({"padding": 4}, 128) == 4  # in pixels
