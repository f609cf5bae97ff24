"""The HTTP service, its pages and the command line."""
