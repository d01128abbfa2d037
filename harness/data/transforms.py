"""Training and test transforms built from a recipe's named augmentations.

Each name of a :class:`reid_bench.spec.Augment` is a builder in :data:`AUGMENTATIONS`,
``builder(height, width, **params)`` (``random_erase`` also gets the recipe's ``norm_mean``), whose keyword
arguments are the ``params`` an ``Augment`` may give (``reid-bench list --components`` lists them):

- ``random_flip``: horizontal flip, p = 0.5;
- ``random_crop``: torchreid's ``Random2DTranslation`` (resize to 1.125x, random crop back; p = 0.5);
- ``resize_crop``: resize the original image to ``factor`` (1.125) times the input size (each side
  rounded), then ALWAYS take a random crop of the input size (CCAN Sec. 4.1: 288x144 -> 256x128). The
  factor is relative to the recipe's input size, so a protocol with another input size (synthetic
  64x32 -> 72x36) keeps the same ratio; the usual first resize to the input size is skipped;
- ``pad_crop``: zero-pad by ``padding`` (10) pixels, random crop back to the input size; with
  ``reference_width`` the padding is given for an input of that width and scales with the input's
  (``{"padding": 10, "reference_width": 128}``: Bag of Tricks' 10 px at 256x128, 5 px at 128x64, 3 px at
  64x32), so the shift stays the same share of the image at any input size;
- ``random_resized_crop``: crop of area fraction ``scale`` and aspect ratio ``aspect`` (height/width),
  resized to the input size (torchvision's ``RandomResizedCrop``);
- ``color_jitter``: torchreid's setting, brightness 0.2, contrast 0.15;
- ``random_erase``: torchreid's ``RandomErasing`` (Zhong et al.), ``probability`` 0.5, on the normalised
  tensor.

An augmentation with ``start_epoch`` > 0 is skipped until :meth:`EpochAwareCompose.set_epoch` reaches it.
"""
import inspect

from torchreid.reid.data.transforms import Random2DTranslation, RandomErasing
from torchvision import transforms as T

from ..errors import UserError


class EpochAwareCompose:
    """``Compose`` whose steps may start at a given epoch (set before each epoch by the engine; the
    loader's worker processes copy the transform when an epoch's iterator is created)."""

    def __init__(self, steps):
        self.steps = steps  # list of (transform, start_epoch)
        self.epoch = 0

    def set_epoch(self, epoch):
        self.epoch = epoch

    def __call__(self, image):
        for transform, start_epoch in self.steps:
            if self.epoch >= start_epoch:
                image = transform(image)
        return image

    def __repr__(self):
        inner = ", ".join(f"{t!r}@{s}" if s else repr(t) for t, s in self.steps)
        return f"EpochAwareCompose([{inner}])"


def pad_crop_padding(params, width):
    """``pad_crop``'s padding in pixels at an input ``width`` (see the module docstring)."""
    padding = params.get("padding", 10)
    reference = params.get("reference_width")
    return max(1, int(padding * width / reference + 0.5)) if reference else padding


def random_flip(height, width):
    """Horizontal flip, p = 0.5."""
    return T.RandomHorizontalFlip()


def random_crop(height, width):
    """torchreid's ``Random2DTranslation``: with p = 0.5, resize to 1.125x and crop back at random."""
    return Random2DTranslation(height, width)


def resize_crop(height, width, factor=1.125):
    """Resize the original to ``factor`` times the input size, always crop the input size at random."""
    if factor < 1:
        raise ValueError(f"resize_crop needs factor >= 1 (the crop is the input size), got {factor}")
    return T.Compose([T.Resize((round(height * factor), round(width * factor))), T.RandomCrop((height, width))])


def pad_crop(height, width, padding=10, reference_width=None):
    """Zero-pad by ``padding`` pixels (given for an input ``reference_width`` wide, when set) and crop back."""
    padding = pad_crop_padding({"padding": padding, "reference_width": reference_width}, width)
    return T.Compose([T.Pad(padding), T.RandomCrop((height, width))])


def color_jitter(height, width):
    """torchreid's colour jitter: brightness 0.2, contrast 0.15."""
    return T.ColorJitter(brightness=0.2, contrast=0.15, saturation=0, hue=0)


def random_resized_crop(height, width, scale=(0.64, 1.0), aspect=(2.0, 3.0)):
    """A crop of area fraction in ``scale`` and aspect ratio (height / width) in ``aspect``, resized."""
    low, high = aspect
    # torchvision's ratio is width / height
    return T.RandomResizedCrop((height, width), scale=tuple(scale), ratio=(1.0 / high, 1.0 / low))


def random_erase(height, width, probability=0.5, *, norm_mean):
    """torchreid's ``RandomErasing`` (Zhong et al.) on the normalised tensor, erased to ``norm_mean``."""
    return RandomErasing(probability=probability, mean=list(norm_mean))


#: name -> builder of the image (PIL) augmentations, in the order they are applied
PIL_STAGE = {builder.__name__: builder for builder in (random_resized_crop, random_crop, resize_crop, random_flip,
                                                       pad_crop, color_jitter)}
#: name -> builder of the augmentations of the normalised tensor
TENSOR_STAGE = {"random_erase": random_erase}
AUGMENTATIONS = {**PIL_STAGE, **TENSOR_STAGE}


def _build(augment, height, width, **context):
    """The transform of ``augment``; its unknown parameters are a :class:`UserError` naming the known ones."""
    builder = AUGMENTATIONS[augment.name]
    known = [name for name in list(inspect.signature(builder).parameters)[2:] if name not in context]
    unknown = sorted(set(augment.params) - set(known))
    if unknown:
        raise UserError(f"augmentation {augment.name!r} has no parameter {', '.join(unknown)}; "
                         f"its parameters: {', '.join(known) or '(none)'}")
    return builder(height, width, **augment.params, **context)


def build_train_transform(recipe, input_size):
    """The training transform of ``recipe`` at ``input_size`` (height, width)."""
    height, width = input_size
    names = [augment.name for augment in recipe.train_transforms]
    unknown = [name for name in names if name not in AUGMENTATIONS]
    if unknown:
        raise UserError(f"unknown augmentation(s) {unknown}; known: {', '.join(AUGMENTATIONS)}")
    late = [a.name for a in recipe.train_transforms if a.name == "resize_crop" and a.start_epoch > 0]
    if late:
        raise ValueError("resize_crop is what sizes the image: it cannot start after epoch 0")
    steps = []
    if not {"random_resized_crop", "resize_crop"} & set(names):  # those two resize the original themselves
        steps.append((T.Resize((height, width)), 0))
    order = list(PIL_STAGE)
    for augment in sorted(recipe.train_transforms, key=lambda a: order.index(a.name) if a.name in order else 99):
        if augment.name in PIL_STAGE:
            steps.append((_build(augment, height, width), augment.start_epoch))
    steps += [(T.ToTensor(), 0), (T.Normalize(recipe.norm_mean, recipe.norm_std), 0)]
    for augment in recipe.train_transforms:
        if augment.name in TENSOR_STAGE:
            steps.append((_build(augment, height, width, norm_mean=recipe.norm_mean), augment.start_epoch))
    return EpochAwareCompose(steps)


def build_test_transform(recipe, input_size):
    """Resize to ``input_size`` and normalise."""
    return T.Compose([T.Resize(tuple(input_size)), T.ToTensor(), T.Normalize(recipe.norm_mean, recipe.norm_std)])
