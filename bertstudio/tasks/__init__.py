"""What varies by kind of target (one class, several tags, a number): one module per task."""
