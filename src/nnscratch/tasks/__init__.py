"""Layer 4, tasks: the only code that knows there are several kinds of work."""
