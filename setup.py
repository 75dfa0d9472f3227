"""What pyproject.toml cannot say: the top-level ``configs/`` travels in the wheel as the package
``arena.configs`` (its YAML files are package data there), so that ``arena run tournament_ring8``
finds the shipped configs in an install as it does in a clone (:mod:`arena.config.shipped`)."""

from setuptools import find_packages, setup

setup(
    packages=[*find_packages(include=["arena*", "agents*", "games*"]), "arena.configs"],
    package_dir={"arena.configs": "configs"},
)
