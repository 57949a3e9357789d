from .autoencoder_semantic import SemanticAutoencoder
from .transformer_s2dit import S2DiTTransformer


__all__ = ["SemanticAutoencoder", "S2DiTTransformer"]
