"""10-crop test features (Sec. IV-B: "the standard 10-crop testing [1]", Krizhevsky et al. 2012).

The harness hands the test batch already resized to the recipe's input size (B, 3, H, W). The four
corner crops and the centre crop cover ``CROP_FRACTION`` of each side (0.875 = 224/256, the ratio of
the standard ImageNet 10-crop), taken with torchvision's ``ten_crop`` together with the same crops of
the horizontally flipped image. Each crop is resized back to H x W (bilinear), so the network sees its
usual input size; the model runs in eval mode and the ten outputs are averaged.
"""
import torch
import torch.nn.functional as F
import torchvision.transforms.functional as TF

CROP_FRACTION = 0.875


def ten_crop_features(model, images, fraction=CROP_FRACTION):
    """Mean of the model's eval-mode outputs over the ten crops of ``images``: shape (B, D)."""
    height, width = images.shape[-2:]
    crop_size = (round(height * fraction), round(width * fraction))
    was_training = model.training
    model.eval()
    with torch.no_grad():
        features = torch.stack([
            model(F.interpolate(crop, size=(height, width), mode="bilinear", align_corners=False))
            for crop in TF.ten_crop(images, crop_size)
        ]).mean(dim=0)
    model.train(was_training)
    return features
