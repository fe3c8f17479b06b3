"""What pyproject.toml cannot say: the top-level templates/ folder (where editors change the
templates) ships inside the package as ``newsletter/templates``, package data that an
installed copy finds through importlib.resources wherever pip put it (a virtual environment,
``pip install --user``, ``pip install --prefix``)."""

from setuptools import find_packages, setup

setup(
    packages=[*find_packages(include=["newsletter", "newsletter.*"]), "newsletter.templates"],
    package_dir={"newsletter.templates": "templates"},
    package_data={"newsletter.templates": ["*.j2"]},
    include_package_data=False,
)
