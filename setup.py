"""Packages of the wheel: metaxy_tui, plus sample_data/ shipped inside it.

sample_data/ stays the top-level home of the examples (a source checkout runs them from
there); the wheel carries it as metaxy_tui/sample_data, so `metaxy-tui demo` works from a
plain install (service/demo.py looks in both places). Everything else is in pyproject.toml.
"""

from setuptools import find_namespace_packages, find_packages, setup

SAMPLES = "metaxy_tui.sample_data"
sample_packages = [SAMPLES] + [
    f"{SAMPLES}.{p}" for p in find_namespace_packages("sample_data", exclude=["*__pycache__*"])
]

setup(
    packages=find_packages(include=["metaxy_tui", "metaxy_tui.*"]) + sample_packages,
    package_dir={SAMPLES: "sample_data"},
    package_data={
        "metaxy_tui": ["py.typed"],
        "": ["*.tcss"],
        **{p: ["*.toml", "*.md", "*.csv", "*.parquet", "*.patch"] for p in sample_packages},
    },
)
