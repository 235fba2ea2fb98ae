"""A small CNN trained on scikit-learn's digits (8x8 grey images, ships with the package).

Trained in a second or two on one thread with fixed seeds, so every process that builds it gets the
same weights; its outputs are informative (unlike a random-init network), which parity checks need.
"""

from study.build.models.spec import ModelSpec

TRAIN_FRACTION = 0.8
EPOCHS = 30


def define():
    import torch
    from torch import nn

    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(),
        nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(16 * 4 * 4, 10),
    )


def digits_split():
    """(x_train, y_train, x_test, y_test) as float32 NCHW in [0, 1] and int64 labels, seeded split."""
    import numpy as np
    from sklearn.datasets import load_digits

    digits = load_digits()
    images = (digits.images / 16.0).astype(np.float32)[:, None, :, :]
    order = np.random.default_rng(0).permutation(len(images))
    cut = int(TRAIN_FRACTION * len(images))
    train, test = order[:cut], order[cut:]
    return images[train], digits.target[train], images[test], digits.target[test]


def train(module):
    import torch

    previous_threads = torch.get_num_threads()
    torch.set_num_threads(1)  # one thread: the same float reductions, hence the same weights, everywhere
    try:
        torch.manual_seed(0)
        x_train, y_train, _, _ = digits_split()
        x, y = torch.from_numpy(x_train), torch.from_numpy(y_train)
        optimiser = torch.optim.Adam(module.parameters(), lr=3e-3)
        module.train()
        for _ in range(EPOCHS):
            for batch in torch.randperm(len(x)).split(64):
                optimiser.zero_grad()
                torch.nn.functional.cross_entropy(module(x[batch]), y[batch]).backward()
                optimiser.step()
    finally:
        torch.set_num_threads(previous_threads)
    return module.eval()


def validation_digits(count: int):
    """The first ``count`` held-out digits: real inputs with real labels."""
    return digits_split()[2][:count]


SPEC = ModelSpec(
    name="digits_cnn",
    framework="torch",
    input_shape=(1, 8, 8),
    description="two-conv CNN trained on scikit-learn's digits (8x8 grey, 10 classes)",
    define=define,
    train=train,
    validation_data="study.build.models.digits_cnn:validation_digits",
)
