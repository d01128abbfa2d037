"""Networks and what they start from: torchvision backbones, where pretrained weights come from (ImageNet
files or the harness's synthetic pretraining), the shared loss terms, and building a method's model."""
