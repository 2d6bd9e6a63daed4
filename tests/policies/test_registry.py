import threading

import pytest
import yaml

from policies import PolicyError, PolicyRegistry

from .conftest import pack_data, scores


def test_default_registry_has_shipped_packs():
    registry = PolicyRegistry()
    assert registry.names() == ["default", "strict"]
    assert registry.get("default").ref == "hallmark-default@1.1.0"
    assert registry.evaluate("strict", text="x", scores=scores()).policy == "hallmark-strict@1.1.0"
    with pytest.raises(KeyError, match="no policy pack registered as 'tenant-x'"):
        registry.get("tenant-x")


def test_reload_picks_up_a_new_version(write_pack):
    path = write_pack(pack_data())
    registry = PolicyRegistry({"tenant-a": path})
    assert registry.get("tenant-a").version == "1.0.0"
    path.write_text(yaml.safe_dump(pack_data(version="1.1.0")), encoding="utf-8")
    assert registry.reload("tenant-a")["tenant-a"].version == "1.1.0"
    assert registry.evaluate("tenant-a", text="x", scores=scores()).policy == "test-pack@1.1.0"


def test_bad_reload_keeps_previous_pack(write_pack):
    path = write_pack(pack_data())
    registry = PolicyRegistry({"tenant-a": path, "kids": "strict"})
    engine_before = registry.engine("tenant-a")
    bad = pack_data(version="2.0.0")
    bad["thresholds"]["violence"] = {"review": 0.9, "block": 0.2}
    path.write_text(yaml.safe_dump(bad), encoding="utf-8")
    with pytest.raises(PolicyError) as info:
        registry.reload()
    message = str(info.value)
    assert "tenant-a: reload failed, test-pack@1.0.0 stays active" in message
    assert "thresholds.violence: review threshold 0.9 is above block threshold 0.2" in message
    assert registry.engine("tenant-a") is engine_before
    assert registry.get("kids").ref == "hallmark-strict@1.1.0"  # the good one reloaded fine

    path.write_text("id: [", encoding="utf-8")  # not even YAML
    with pytest.raises(PolicyError, match="not valid YAML"):
        registry.reload("tenant-a")
    assert registry.get("tenant-a").version == "1.0.0"

    path.unlink()
    with pytest.raises(PolicyError, match="not found"):
        registry.reload("tenant-a")
    assert registry.get("tenant-a").version == "1.0.0"


def test_register_invalid_changes_nothing(write_pack):
    registry = PolicyRegistry()
    bad = write_pack(pack_data(labels=["nope"]))
    with pytest.raises(PolicyError, match="unknown label"):
        registry.register("default", bad)
    assert registry.get("default").ref == "hallmark-default@1.1.0"
    with pytest.raises(PolicyError):
        PolicyRegistry({"x": bad})


def test_concurrent_reads_during_reload(write_pack):
    path = write_pack(pack_data())
    registry = PolicyRegistry({"t": path})
    errors: list[BaseException] = []

    def read():
        try:
            for _ in range(200):
                assert registry.evaluate("t", text="x", scores=scores()).action == "allow"
        except BaseException as exc:  # noqa: BLE001 - surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=read) for _ in range(4)]
    for t in threads:
        t.start()
    for _ in range(20):
        registry.reload("t")
    for t in threads:
        t.join()
    assert not errors
