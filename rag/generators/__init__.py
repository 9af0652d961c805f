"""Generator backends; each imports its heavy library inside its own module."""
