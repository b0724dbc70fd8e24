"""The one job runner: every long piece of work (a run, a resume, a fine-tune, a sweep trial, a task)."""
