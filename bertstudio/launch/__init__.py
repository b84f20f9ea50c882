"""Where a run executes: the worker hands each training to a launcher (`base.Launcher`).

`thread.ThreadLauncher` trains inside the calling process (tests, scripts, callers that want it);
`process.ProcessLauncher` starts `python -m bertstudio train` (or `accelerate launch` on several
GPUs) as a child process of its own, so a crash in a training never takes the server with it.
Adding a launcher is a new module here, not an edit of the worker.
"""
