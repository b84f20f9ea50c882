"""The training loop on Accelerate and what it needs: batches, checkpoints, evaluation, events, CPU kernels."""
