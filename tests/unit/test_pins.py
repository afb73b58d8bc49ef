"""Supply chain: every pin carries its files' hashes and every set-up installs in hash-checking mode."""

from __future__ import annotations

import re

from tooling.dev import pins


def test_every_pin_of_every_requirement_file_has_hashes():
    for name in pins.FILES:
        assert pins.unhashed((pins.PROJECT / name).read_text()) == [], name
    assert pins.main(["--check"]) == 0


def test_the_set_up_installs_every_requirement_file_with_require_hashes():
    makefile = (pins.PROJECT / "Makefile").read_text()
    calls = re.findall(r"\$\(call install,([^)]*(?:\([^)]*\)[^)]*)*)\)", makefile)
    with_files = [c for c in calls if "-r " in c]
    assert with_files and all("--require-hashes" in c for c in with_files), with_files
    # the installer itself: pip in hash-checking mode from the pinned file
    assert re.search(r"pip install [^;]*--require-hashes\s*\\?\s*-r tooling/dev/uv.txt", makefile)
    assert "uv==" not in makefile


def test_a_pin_without_hashes_is_found_and_rendering_adds_them_once():
    text = "# a comment\n-r requirements.txt\nfoo==1.0\nbar_baz==2.0 \\\n    --hash=sha256:" + "a" * 64 + "\n"
    assert pins.unhashed(text) == ["foo==1.0"]
    hashed = pins.render(text, lambda name, version: ["b" * 64, "c" * 64])
    assert pins.unhashed(hashed) == []
    assert hashed.startswith("# a comment\n-r requirements.txt\nfoo==1.0 \\\n    --hash=sha256:" + "b" * 64)
    assert pins.render(hashed, lambda name, version: ["b" * 64, "c" * 64]) == hashed
    assert [pin for _, pin, _ in pins.entries(hashed) if pin] == [("foo", "1.0"), ("bar_baz", "2.0")]


def test_file_names_of_wheels_and_sdists_give_their_project_and_version():
    assert pins._release_of("python_dateutil-2.9.0.post0-py2.py3-none-any.whl") == ("python-dateutil", "2.9.0.post0")
    assert pins._release_of("PyYAML-6.0.3.tar.gz") == ("pyyaml", "6.0.3")
    assert pins._release_of("zope.interface-7.2.zip") == ("zope-interface", "7.2")
