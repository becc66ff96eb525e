"""pyproject.toml: the metadata builds without deprecation warnings with the setuptools the lock pins."""

from __future__ import annotations

import re
import warnings
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_license_is_an_spdx_expression_that_the_pinned_setuptools_reads_without_warnings():
    from setuptools.config.pyprojecttoml import apply_configuration
    from setuptools.dist import Distribution

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        dist = apply_configuration(Distribution(), REPO / "pyproject.toml")
    assert dist.metadata.license_expression == "Apache-2.0"
    assert [str(w.message) for w in caught if "license" in str(w.message).lower()] == []


def test_the_build_requires_a_setuptools_that_reads_spdx_licenses_and_the_lock_pins_one():
    requires = re.search(r"^requires = \[(.*)\]", (REPO / "pyproject.toml").read_text(), re.MULTILINE).group(1)
    assert '"setuptools>=77"' in requires
    pinned = re.search(r"^setuptools==(\d+)\.", (REPO / "requirements.lock").read_text(), re.MULTILINE)
    assert pinned and int(pinned.group(1)) >= 77
