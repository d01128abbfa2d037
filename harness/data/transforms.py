"""Training and test transforms built from a recipe's named augmentations.

Names (see :class:`reid_bench.spec.Augment`):

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
from torchreid.reid.data.transforms import Random2DTranslation, RandomErasing
from torchvision import transforms as T

PIL_STAGE = ("random_resized_crop", "random_crop", "resize_crop", "random_flip", "pad_crop", "color_jitter")
TENSOR_STAGE = ("random_erase",)
KNOWN_AUGMENTS = PIL_STAGE + TENSOR_STAGE


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


def _pil_augment(augment, height, width):
    params = augment.params
    if augment.name == "random_flip":
        return T.RandomHorizontalFlip()
    if augment.name == "random_crop":
        return Random2DTranslation(height, width)
    if augment.name == "resize_crop":
        factor = params.get("factor", 1.125)
        if factor < 1:
            raise ValueError(f"resize_crop needs factor >= 1 (the crop is the input size), got {factor}")
        return T.Compose([T.Resize((round(height * factor), round(width * factor))), T.RandomCrop((height, width))])
    if augment.name == "pad_crop":
        return T.Compose([T.Pad(pad_crop_padding(params, width)), T.RandomCrop((height, width))])
    if augment.name == "color_jitter":
        return T.ColorJitter(brightness=0.2, contrast=0.15, saturation=0, hue=0)
    if augment.name == "random_resized_crop":
        low, high = params.get("aspect", (2.0, 3.0))
        # torchvision's ratio is width / height
        return T.RandomResizedCrop((height, width), scale=tuple(params.get("scale", (0.64, 1.0))),
                                   ratio=(1.0 / high, 1.0 / low))
    raise ValueError(f"unknown augmentation {augment.name!r}; known: {', '.join(KNOWN_AUGMENTS)}")


def build_train_transform(recipe, input_size):
    """The training transform of ``recipe`` at ``input_size`` (height, width)."""
    height, width = input_size
    names = [augment.name for augment in recipe.train_transforms]
    unknown = [name for name in names if name not in KNOWN_AUGMENTS]
    if unknown:
        raise ValueError(f"unknown augmentation(s) {unknown}; known: {', '.join(KNOWN_AUGMENTS)}")
    late = [a.name for a in recipe.train_transforms if a.name == "resize_crop" and a.start_epoch > 0]
    if late:
        raise ValueError("resize_crop is what sizes the image: it cannot start after epoch 0")
    steps = []
    if not {"random_resized_crop", "resize_crop"} & set(names):  # those two resize the original themselves
        steps.append((T.Resize((height, width)), 0))
    ordered = sorted(recipe.train_transforms, key=lambda a: PIL_STAGE.index(a.name) if a.name in PIL_STAGE else 99)
    for augment in ordered:
        if augment.name in PIL_STAGE:
            steps.append((_pil_augment(augment, height, width), augment.start_epoch))
    steps += [(T.ToTensor(), 0), (T.Normalize(recipe.norm_mean, recipe.norm_std), 0)]
    for augment in recipe.train_transforms:
        if augment.name == "random_erase":
            erase = RandomErasing(probability=augment.params.get("probability", 0.5), mean=list(recipe.norm_mean))
            steps.append((erase, augment.start_epoch))
    return EpochAwareCompose(steps)


def build_test_transform(recipe, input_size):
    """Resize to ``input_size`` and normalise."""
    return T.Compose([T.Resize(tuple(input_size)), T.ToTensor(), T.Normalize(recipe.norm_mean, recipe.norm_std)])
