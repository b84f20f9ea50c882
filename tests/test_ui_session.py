"""Per-visitor objects and the browser's memory: nothing is shared between sessions."""

from bertstudio.ui.session import BrowserMemory, SessionObjects, SessionRegistry


def test_each_session_gets_its_own_objects():
    registry = SessionRegistry(SessionObjects)
    alice, bob = registry.get("alice"), registry.get("bob")
    alice.tokenizer_name = "bert-base-uncased"
    assert alice is not bob and bob.tokenizer_name is None
    assert registry.get("alice") is alice


def test_unload_drops_the_session_and_deletes_its_downloads():
    registry = SessionRegistry(SessionObjects)
    objects = registry.get("alice")
    folder = objects.downloads_dir()
    (folder / "predictions.csv").write_text("x")
    registry.drop("alice")
    assert "alice" not in registry and not folder.exists() and len(registry) == 0
    registry.drop("never-seen")  # unloading twice or unknown sessions is harmless


def test_downloads_folders_are_private_to_a_session():
    registry = SessionRegistry(SessionObjects)
    assert registry.get("a").downloads_dir() != registry.get("b").downloads_dir()


def test_browser_memory_survives_garbage_from_local_storage():
    for value in (None, "x", [], {"owner": 3, "runs": "nope"}, {"runs": [1, "r1"]}):
        memory = BrowserMemory.from_value(value)
        assert isinstance(memory.owner, str) and all(isinstance(r, str) for r in memory.runs)


def test_a_new_browser_gets_an_unguessable_owner_that_is_then_kept():
    first = BrowserMemory().with_owner()
    assert len(first.owner) >= 20 and first.with_owner().owner == first.owner
    assert BrowserMemory().with_owner().owner != first.owner


def test_following_a_run_remembers_it_first_and_forgetting_removes_it():
    memory = BrowserMemory(owner="o").following("r1").following("r2").following("r1")
    assert memory.run_id == "r1" and memory.runs == ["r1", "r2"]
    forgotten = memory.forgetting("r1")
    assert forgotten.run_id is None and forgotten.runs == ["r2"] and forgotten.owner == "o"
    assert BrowserMemory.from_value(memory.to_value()) == memory


def test_a_visitors_downloads_live_under_the_given_root_and_come_back_after_a_sweep(tmp_path):
    import shutil

    from bertstudio.ui.session import SessionObjects

    objects = SessionObjects(downloads_root=tmp_path / "downloads")
    folder = objects.downloads_dir()
    assert folder.parent == tmp_path / "downloads" and folder.name.startswith("bertstudio-session-")
    shutil.rmtree(folder)  # what the time-to-live sweep does to a page left open for a day
    assert objects.downloads_dir() == folder and folder.is_dir()
    objects.close()
    assert not folder.exists()


def test_remembered_choices_survive_garbage_from_local_storage():
    from bertstudio.ui.session import RememberedChoices

    for value in (None, "x", [], {"data": 3, "settings": "nope"}, {"settings": {"epochs": [1], 4: "x"}},
                  {"data": "x" * 5000}):
        choices = RememberedChoices.from_value(value)
        assert choices.data is None and all(not isinstance(v, (list, dict)) for v in choices.settings.values())
    kept = RememberedChoices(data="/tmp/gradio/ab/orders.csv", validation_mode="split", preset="quick-try",
                             settings={"max_length": 24, "model": "bundled", "clean_nfkc": True})
    assert RememberedChoices.from_value(kept.to_value()) == kept
