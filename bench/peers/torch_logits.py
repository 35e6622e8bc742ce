#!/usr/bin/env python3
"""Loads afsearch weights (safetensors, `layers.N.weight` out×in / `layers.N.bias`) into a PyTorch module and
prints its logits and mean cross-entropy on given inputs, as one JSON object.

Used by Tests/GPUEngineTests/SafetensorsTorchInteropTests.swift to check that weights written by afsearch load
into PyTorch unchanged. Input JSON: {"features": [[...], ...], "labels": [...], "activations": ["relu", ...]}
(one activation name per hidden layer; the output layer has none).

    PYTHONPATH=bench/.venv/torch-extras /usr/bin/python3 bench/peers/torch_logits.py WEIGHTS.safetensors INPUT.json
"""
import json
import sys

import torch
from safetensors.torch import load_file

ACTIVATIONS = {"relu": torch.relu, "tanh": torch.tanh, "sigmoid": torch.sigmoid,
               "softplus": torch.nn.functional.softplus, "elu": torch.nn.functional.elu,
               "silu": torch.nn.functional.silu, "gelu": torch.nn.functional.gelu, "mish": torch.nn.functional.mish}


class Net(torch.nn.Module):
    def __init__(self, state, activations):
        super().__init__()
        count = len([k for k in state if k.startswith("layers.") and k.endswith(".weight")])
        self.layers = torch.nn.ModuleList(
            torch.nn.Linear(state[f"layers.{i}.weight"].shape[1], state[f"layers.{i}.weight"].shape[0]) for i in range(count))
        self.load_state_dict(state)  # strict: every tensor name and shape must match PyTorch's
        self.activations = activations

    def forward(self, x):
        for i, layer in enumerate(self.layers):
            x = layer(x)
            if i < len(self.layers) - 1:
                x = ACTIVATIONS[self.activations[i]](x)
        return x


def main():
    weights, inputs = sys.argv[1], sys.argv[2]
    with open(inputs) as f:
        doc = json.load(f)
    state = load_file(weights)
    net = Net(state, doc["activations"]).double()
    x = torch.tensor(doc["features"], dtype=torch.float64)
    y = torch.tensor(doc["labels"], dtype=torch.long)
    with torch.no_grad():
        logits = net(x)
        loss = torch.nn.functional.cross_entropy(logits, y).item()
        acc = (logits.argmax(dim=1) == y).double().mean().item()
    print(json.dumps({"logits": logits.tolist(), "loss": loss, "accuracy": acc, "torch": torch.__version__}))


if __name__ == "__main__":
    main()
