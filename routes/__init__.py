"""Road routes: the road network, checkpoints, route checks."""
