from .pipeline_output import S2AccompanistPipelineOutput
from .pipeline_s2accompanist import S2AccompanistPipeline
from .pipeline_s2accompanist_repaint import S2AccompanistRepaintPipeline


__all__ = ["S2AccompanistPipeline", "S2AccompanistPipelineOutput", "S2AccompanistRepaintPipeline"]
