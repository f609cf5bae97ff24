"""HTTP endpoints, one module per resource (``routes/`` at the top level means road routes)."""
