from .pipeline_s2accompanist import S2AccompanistPipeline


__all__ = ["S2AccompanistPipeline"]
