"""What every other part of the project builds on, with no imports from the rest of it:
the error hierarchy, registries and value checks, seeds and devices, memory limits, fault
injection for tests, and tensor-tree helpers. ``agents`` and ``games`` use only this package
of the arena."""
