"""Generic training samplers (index samplers; the loader cuts their stream into batches)."""
import torch
from torchreid.reid.data.sampler import RandomIdentitySampler


def random_sampler(data_source, batch_size, generator=None):
    """Every training image once per epoch in random order (plain softmax training)."""
    return torch.utils.data.RandomSampler(data_source, generator=generator)


def identity_sampler(data_source, batch_size, num_instances=4):
    """P x K batches: ``batch_size / num_instances`` identities with ``num_instances`` images each
    (torchreid's :class:`RandomIdentitySampler`)."""
    if not isinstance(num_instances, int) or isinstance(num_instances, bool) or num_instances < 1:
        raise ValueError(f"num_instances: expected a whole number of at least 1, got {num_instances!r}")
    if batch_size % num_instances:
        raise ValueError(f"batch size {batch_size} is not a multiple of num_instances={num_instances}")
    num_pids = len({item[1] for item in data_source})
    if num_pids < batch_size // num_instances:
        raise ValueError(
            f"P x K sampling needs {batch_size // num_instances} identities per batch but the training "
            f"set has {num_pids}; lower the batch size"
        )
    return RandomIdentitySampler(data_source, batch_size, num_instances)
