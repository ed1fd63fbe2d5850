"""The write bench copies a cached log before writing to it, and only when the disk has room."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from bench import writepath


def _cache(tmp_path: Path) -> Path:
    folder = tmp_path / "cache" / "log-v3-1000"
    (folder / "pki").mkdir(parents=True)
    (folder / "pki" / "tsa.pem").write_bytes(b"pem")
    (folder / "gateway.sqlite3").write_bytes(b"x" * 1000)
    return folder


def test_the_copy_has_every_file_and_the_cache_is_left_alone(tmp_path: Path) -> None:
    folder = _cache(tmp_path)
    into = tmp_path / "work"
    into.mkdir()
    copy = writepath._copy_log(folder, into)
    assert copy == into / folder.name
    assert (copy / "pki" / "tsa.pem").read_bytes() == b"pem"
    (copy / "gateway.sqlite3").write_bytes(b"changed")
    assert (folder / "gateway.sqlite3").read_bytes() == b"x" * 1000


def test_a_disk_without_room_stops_the_run_before_copying(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = _cache(tmp_path)
    into = tmp_path / "work"
    into.mkdir()
    room = writepath._COPY_HEADROOM + 1000 + 3 - 1  # one byte short of the files + headroom

    monkeypatch.setattr(writepath.shutil, "disk_usage", lambda _: SimpleNamespace(free=room))
    with pytest.raises(SystemExit, match=r"needs 0\.0 GB plus 2 GB .* free: free some space"):
        writepath._copy_log(folder, into)
    assert list(into.iterdir()) == []
