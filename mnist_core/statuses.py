"""The states of a run, named once for the job runner, the training loop, the registry, the CLI and the pages
(this module imports nothing, so pages can use it without loading TensorFlow)."""

QUEUED, RUNNING = "queued", "running"  # in the job runner, not yet ended
FINISHED, STOPPED, FAILED = "finished", "stopped", "failed"  # how a saved run ended
INTERRUPTED = "interrupted"  # its process died mid-training; the last epoch's checkpoint can be resumed
UPLOADED = "uploaded"  # a model file added on the Models page, not trained here

ACTIVE = (RUNNING, QUEUED)  # a run still to end, the more interesting first
ENDED = (FINISHED, STOPPED, FAILED)
