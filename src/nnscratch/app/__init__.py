"""Layer 5, the application: the command line, run directories, the lab, search, serving."""
