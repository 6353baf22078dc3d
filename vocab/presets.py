"""Built-in model shapes: random weights, so nothing is ever downloaded.

Each preset copies the published shape of a common open model, so its FLOPs,
memory and bandwidth match the real one; the weights are random.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class ModelConfig:
    name: str
    vocab: int
    d_model: int
    n_layers: int
    n_heads: int
    n_kv_heads: int
    d_ff: int
    mlp: str = "swiglu"  # "swiglu": gate, up, down (Llama); "gelu": up, down (GPT-2/OPT)
    tied_embeddings: bool = False
    max_seq: int = 8192
    source: str = ""

    @property
    def head_dim(self) -> int:
        return self.d_model // self.n_heads

    @property
    def kv_dim(self) -> int:
        return self.n_kv_heads * self.head_dim

    def linear_params_per_layer(self) -> int:
        attention = 2 * self.d_model * self.d_model + 2 * self.d_model * self.kv_dim
        mlp = (3 if self.mlp == "swiglu" else 2) * self.d_model * self.d_ff
        return attention + mlp

    def params(self) -> int:
        """Weights, norms included, the LM head counted once when tied."""
        norms = (2 * self.n_layers + 1) * self.d_model
        embeddings = self.vocab * self.d_model * (1 if self.tied_embeddings else 2)
        return self.n_layers * self.linear_params_per_layer() + norms + embeddings


PRESETS: dict[str, ModelConfig] = {
    # Small enough for a CPU test in well under a second; GQA and SwiGLU exercised.
    "tiny": ModelConfig("tiny", 512, 64, 2, 4, 2, 128, max_seq=1024, source="built-in test shape"),
    "125m": ModelConfig(
        "125m",
        50272,
        768,
        12,
        12,
        12,
        3072,
        mlp="gelu",
        tied_embeddings=True,
        max_seq=2048,
        source="OPT-125m / GPT-2 small shape",
    ),
    "1b": ModelConfig(
        "1b",
        128256,
        2048,
        16,
        32,
        8,
        8192,
        tied_embeddings=True,
        source="Llama 3.2 1B shape (config.json of meta-llama/Llama-3.2-1B)",
    ),
    "7b": ModelConfig(
        "7b",
        32000,
        4096,
        32,
        32,
        32,
        11008,
        max_seq=4096,
        source="Llama 2 7B shape (config.json of meta-llama/Llama-2-7b-hf)",
    ),
    "13b": ModelConfig(
        "13b",
        32000,
        5120,
        40,
        40,
        40,
        13824,
        max_seq=4096,
        source="Llama 2 13B shape (config.json of meta-llama/Llama-2-13b-hf)",
    ),
}
