"""A small transformer encoder with multi-head self-attention: the articles report attention as a
conversion pain point."""

from study.build.models.spec import ModelSpec

SEQUENCE = (32, 16)  # tokens, features per token


def define():
    import torch
    from torch import nn

    class TransformerClassifier(nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = nn.Linear(SEQUENCE[1], 64)
            layer = nn.TransformerEncoderLayer(d_model=64, nhead=4, dim_feedforward=128, batch_first=True,
                                               dropout=0.0)
            self.encoder = nn.TransformerEncoder(layer, num_layers=2, enable_nested_tensor=False)
            self.head = nn.Linear(64, 5)

        def forward(self, x):
            return self.head(self.encoder(self.embed(x)).mean(dim=1))

    torch.manual_seed(0)
    return TransformerClassifier().eval()


SPEC = ModelSpec(name="transformer_encoder", framework="torch", input_shape=SEQUENCE,
                 description="2-layer transformer encoder (d=64, 4 heads) over 32 tokens, mean-pooled, 5 classes",
                 define=define)
