"""What talks to the outside world, each behind a small Protocol."""
