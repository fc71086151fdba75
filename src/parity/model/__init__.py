"""Frozen description of a decoder-only LLM: a sequence of layer kinds (token mixer + MLP).

Counts are exact for the weights a checkpoint stores (matrices, biases, norms); parameters are a
count, FLOPs count a multiply-add as 2. Nothing here knows Hugging Face key names (see `hf`).
"""

from parity.model.core import Layer, Model
from parity.model.mixers import Attention, Matrix, causal_pairs, mean_keys
from parity.model.recurrent import LightningAttention, LinearAttention, Mamba, Mixer
from parity.model.mlp import DenseMlp, Mlp, MoeMlp

__all__ = ["Attention", "LinearAttention", "LightningAttention", "Mamba", "Mixer", "DenseMlp", "MoeMlp", "Mlp", "Layer", "Model",
           "Matrix", "causal_pairs", "mean_keys"]
