"""Old import path of the training helpers, kept so existing scripts keep working. Each concept has its own module:
[`arguments`] (flags, accelerator start-up), [`loading`] (the starting models, shared with the CLI) and
[`run_loop`] (data order, step plans, logging, resumable runs)."""

from .arguments import (  # noqa: F401
    add_common_args,
    make_accelerator,
    single_process_despite_request,
    start_run,
    validate_common_args,
)
from .loading import load_starting_pipeline, load_starting_vae  # noqa: F401
from .run_loop import (  # noqa: F401
    EpochPermutationSampler,
    ResumableRun,
    StepPlan,
    log_scalars_jsonl,
    plan_steps,
    tracker_config,
    trainable_parameters,
    truncate_jsonl,
)
