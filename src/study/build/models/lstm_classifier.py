"""An LSTM sequence classifier: the articles report LSTM layers as a conversion pain point."""

from study.build.models.spec import ModelSpec

SEQUENCE = (32, 16)  # time steps, features per step


def define():
    import torch
    from torch import nn

    class LSTMClassifier(nn.Module):
        def __init__(self):
            super().__init__()
            self.lstm = nn.LSTM(input_size=SEQUENCE[1], hidden_size=64, num_layers=2, batch_first=True)
            self.head = nn.Linear(64, 5)

        def forward(self, x):
            output, _ = self.lstm(x)
            return self.head(output[:, -1, :])

    torch.manual_seed(0)
    return LSTMClassifier().eval()


SPEC = ModelSpec(name="lstm_classifier", framework="torch", input_shape=SEQUENCE,
                 description="2-layer LSTM (64 units) over 32 steps of 16 features, 5 classes, seeded",
                 define=define)
