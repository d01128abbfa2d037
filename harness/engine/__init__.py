"""The generic training engine: any registered method trains from its spec."""
from .trainer import Trainer, TrainStats

__all__ = ["Trainer", "TrainStats"]
