"""Content versions on disk: stage, switch, last good, rollback, pruning, and power cuts."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from device.content.store import ContentStore, StoreError


def _install(store: ContentStore, version: str, text: str = "") -> None:
    staged = store.stage(version)
    (staged / "manifest.toml").write_text(text or f'version = "{version}"\n')
    store.switch(version)


def _shown(store: ContentStore) -> str:
    folder = store.current_dir()
    assert folder is not None
    return (folder / "manifest.toml").read_text()


def test_a_new_store_has_no_content(tmp_path: Path) -> None:
    store = ContentStore(tmp_path)
    assert store.current_version() is None
    assert store.current_dir() is None
    assert store.last_good() is None
    assert store.installed() == []


def test_switch_makes_a_staged_version_current(tmp_path: Path) -> None:
    store = ContentStore(tmp_path)
    _install(store, "2026.11.1")
    assert store.current_version() == "2026.11.1"
    assert store.current_dir() == tmp_path / "content" / "versions" / "2026.11.1"
    assert os.readlink(tmp_path / "content" / "current") == "versions/2026.11.1"
    assert not (tmp_path / "content" / "staging" / "2026.11.1").exists()
    assert _shown(store) == 'version = "2026.11.1"\n'


def test_current_dir_is_the_real_folder_so_a_reader_is_not_moved_under_its_feet(
    tmp_path: Path,
) -> None:
    store = ContentStore(tmp_path)
    _install(store, "2026.11.1")
    shown = store.current_dir()
    _install(store, "2026.11.2")
    assert shown is not None and (shown / "manifest.toml").read_text() == (
        'version = "2026.11.1"\n'
    )


def test_mark_good_and_rollback(tmp_path: Path) -> None:
    store = ContentStore(tmp_path)
    _install(store, "2026.11.1")
    store.mark_good("2026.11.1")
    _install(store, "2026.11.2")
    assert store.last_good() == "2026.11.1"
    assert store.rollback() == "2026.11.1"
    assert store.current_version() == "2026.11.1"
    assert _shown(store) == 'version = "2026.11.1"\n'


def test_rollback_without_last_good_is_refused(tmp_path: Path) -> None:
    store = ContentStore(tmp_path)
    _install(store, "2026.11.1")
    with pytest.raises(StoreError, match="no last good"):
        store.rollback()
    assert store.current_version() == "2026.11.1"


def test_mark_good_needs_an_installed_version(tmp_path: Path) -> None:
    store = ContentStore(tmp_path)
    with pytest.raises(StoreError, match="not installed"):
        store.mark_good("2026.11.1")


@pytest.mark.parametrize("version", ["../x", "latest", "2026.11", "a/b", "", "2026.11.1/.."])
def test_only_content_versions_name_folders(tmp_path: Path, version: str) -> None:
    store = ContentStore(tmp_path)
    with pytest.raises(StoreError, match="not a content version"):
        store.stage(version)
    with pytest.raises(StoreError):
        store.switch(version)


def test_switch_to_an_unknown_version_is_refused(tmp_path: Path) -> None:
    store = ContentStore(tmp_path)
    with pytest.raises(StoreError, match="neither staged nor installed"):
        store.switch("2026.11.9")


def test_switch_back_to_an_installed_version_needs_no_staging(tmp_path: Path) -> None:
    store = ContentStore(tmp_path)
    _install(store, "2026.11.1")
    _install(store, "2026.11.2")
    store.switch("2026.11.1")
    assert store.current_version() == "2026.11.1"


def test_a_fresh_copy_replaces_an_installed_version_that_is_not_current(tmp_path: Path) -> None:
    store = ContentStore(tmp_path)
    _install(store, "2026.11.1", "old copy")
    _install(store, "2026.11.2")
    _install(store, "2026.11.1", "new copy")
    assert _shown(store) == "new copy"


def test_the_current_version_is_never_replaced(tmp_path: Path) -> None:
    store = ContentStore(tmp_path)
    _install(store, "2026.11.1", "shown")
    store.stage("2026.11.1")
    with pytest.raises(StoreError, match="is current"):
        store.switch("2026.11.1")
    assert _shown(store) == "shown"


def test_prune_keeps_current_last_good_and_one_more(tmp_path: Path) -> None:
    store = ContentStore(tmp_path)
    for n in range(1, 6):
        _install(store, f"2026.11.{n}")
        os.utime(store.version_dir(f"2026.11.{n}"), (n, n))  # switch order without waiting
    store.mark_good("2026.11.2")
    removed = store.prune()
    assert removed == ["2026.11.1", "2026.11.3"]
    assert store.installed() == ["2026.11.2", "2026.11.4", "2026.11.5"]
    assert store.current_version() == "2026.11.5"
    assert list((tmp_path / "content" / "trash").iterdir()) == []


def test_pending_health_and_refused_versions_persist(tmp_path: Path) -> None:
    store = ContentStore(tmp_path)
    assert store.pending_health() is None
    store.set_pending_health("2026.11.2", 1)
    assert ContentStore(tmp_path).pending_health() == ("2026.11.2", 1)
    store.clear_pending_health()
    assert store.pending_health() is None
    store.refuse("2026.11.2")
    store.refuse("2026.11.3")
    store.refuse("2026.11.2")
    assert ContentStore(tmp_path).refused() == ["2026.11.3", "2026.11.2"]


@pytest.mark.parametrize("text", ["", "garbage", "../../etc", "2026.11.1 x y", "\x00\x01"])
def test_damaged_small_files_read_as_absent(tmp_path: Path, text: str) -> None:
    store = ContentStore(tmp_path)
    (tmp_path / "content" / "last_good").write_text(text)
    (tmp_path / "content" / "pending_health").write_text(text)
    assert store.last_good() is None
    assert store.pending_health() is None


# -- power cuts: the state a cut leaves behind, then recover() at the next start ------------


def test_cut_while_unpacking_leaves_current_and_discards_the_staging(tmp_path: Path) -> None:
    store = ContentStore(tmp_path)
    _install(store, "2026.11.1")
    half = store.stage("2026.11.2")
    (half / "manifest.toml").write_text("half written")
    after = ContentStore(tmp_path)
    after.recover()
    assert after.current_version() == "2026.11.1"
    assert list((tmp_path / "content" / "staging").iterdir()) == []
    assert after.installed() == ["2026.11.1"]


def test_cut_before_the_symlink_rename_leaves_the_old_current(tmp_path: Path) -> None:
    store = ContentStore(tmp_path)
    _install(store, "2026.11.1")
    # The new version was renamed into versions/ and a temporary link made; then the cut.
    staged = store.stage("2026.11.2")
    (staged / "manifest.toml").write_text("new")
    os.replace(staged, store.version_dir("2026.11.2"))
    os.symlink("versions/2026.11.2", tmp_path / "content" / ".current.deadbeef")
    after = ContentStore(tmp_path)
    after.recover()
    assert after.current_version() == "2026.11.1"
    assert not (tmp_path / "content" / ".current.deadbeef").exists()
    after.switch("2026.11.2")  # the complete folder can still be switched to later
    assert after.current_version() == "2026.11.2"


def test_cut_while_pruning_leaves_current_and_empties_the_trash(tmp_path: Path) -> None:
    store = ContentStore(tmp_path)
    _install(store, "2026.11.1")
    trash = tmp_path / "content" / "trash" / "2026.11.0.abc"
    (trash / "po").mkdir(parents=True)
    (trash / "po" / "en.po").write_text("x")
    after = ContentStore(tmp_path)
    after.recover()
    assert list((tmp_path / "content" / "trash").iterdir()) == []
    assert after.current_version() == "2026.11.1"


def test_cut_while_writing_last_good_keeps_the_old_one(tmp_path: Path) -> None:
    store = ContentStore(tmp_path)
    _install(store, "2026.11.1")
    store.mark_good("2026.11.1")
    (tmp_path / "content" / ".last_good.x1y2").write_text("2026.11")  # the unfinished temp
    after = ContentStore(tmp_path)
    after.recover()
    assert after.last_good() == "2026.11.1"
    assert not (tmp_path / "content" / ".last_good.x1y2").exists()


def test_a_missing_or_dangling_current_falls_back_to_last_good(tmp_path: Path) -> None:
    store = ContentStore(tmp_path)
    _install(store, "2026.11.1")
    store.mark_good("2026.11.1")
    (tmp_path / "content" / "current").unlink()
    os.symlink("versions/2026.11.7", tmp_path / "content" / "current")
    assert store.current_version() is None
    store.recover()
    assert store.current_version() == "2026.11.1"


def test_recover_on_a_store_without_content_does_nothing(tmp_path: Path) -> None:
    store = ContentStore(tmp_path)
    store.recover()
    assert store.current_version() is None
    assert not (tmp_path / "content" / "current").exists()
