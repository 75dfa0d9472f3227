"""Building an arena from a config and playing matches in it: the round loop of a match,
a matching's execution (one by one, batched on one device, or across ranks), compute
options and the divergence guard."""
