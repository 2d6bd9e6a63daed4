import pytest

from policies import CATEGORIES, PolicyError, load_pack, pack_from_dict

from .conftest import pack_data


def test_shipped_packs_load():
    default = load_pack("default")
    strict = load_pack("strict")
    assert default.ref == "hallmark-default@1.1.0"
    assert strict.ref == "hallmark-strict@1.1.0"
    for pack in (default, strict):
        assert tuple(pack.thresholds) == CATEGORIES
        assert "c2pa" in pack.labels and "watermark" in pack.labels
    # strict is stricter everywhere both set a threshold
    for c in CATEGORIES:
        d, s = default.thresholds[c], strict.thresholds[c]
        for attr in ("review", "block"):
            dv, sv = getattr(d, attr), getattr(s, attr)
            if dv is not None:
                assert sv is not None and sv <= dv, (c, attr)
    assert "visible_label" in strict.labels and not strict.allow_list


def test_load_from_path_and_round_trip(write_pack):
    pack = load_pack(write_pack(pack_data()))
    assert pack.ref == "test-pack@1.0.0"
    assert pack.thresholds["violence"].block == 0.8
    assert pack.deny_list == ("forbidden phrase", "禁止词")
    assert pack.source.endswith("pack.yaml")
    assert pack_from_dict(pack.to_dict()) == pack


def test_pack_is_immutable():
    pack = load_pack("default")
    with pytest.raises(AttributeError):
        pack.version = "2"  # type: ignore[misc]
    with pytest.raises(TypeError):
        pack.thresholds["violence"] = None  # type: ignore[index]


def _error(data) -> PolicyError:
    with pytest.raises(PolicyError) as info:
        pack_from_dict(data, source="p.yaml")
    return info.value


def test_unknown_category():
    data = pack_data()
    data["thresholds"]["gore"] = {"review": 0.1, "block": 0.2}
    err = _error(data)
    assert "p.yaml: thresholds.gore: unknown category 'gore'" in str(err)


@pytest.mark.parametrize("bad", [1.5, -0.1, float("nan"), "high", True])
def test_threshold_outside_unit_interval(bad):
    data = pack_data()
    data["thresholds"]["violence"] = {"review": 0.5, "block": bad}
    err = _error(data)
    assert "thresholds.violence.block" in str(err)


def test_review_above_block():
    data = pack_data()
    data["thresholds"]["sexual"] = {"review": 0.9, "block": 0.5}
    assert "thresholds.sexual: review threshold 0.9 is above block threshold 0.5" in str(_error(data))


def test_missing_fields_and_categories():
    data = pack_data()
    del data["version"], data["labels"]
    del data["thresholds"]["ip"]
    data["thresholds"]["hate"] = {"review": 0.4}
    err = _error(data)
    text = str(err)
    assert "version: required field is missing" in text
    assert "labels: required field is missing" in text
    assert "thresholds.hate: missing block" in text
    assert "thresholds: missing categories: ip" in text
    assert len(err.errors) == 4  # every problem reported at once


def test_other_validation_errors():
    data = pack_data(version=1.0, labels=["c2pa", "hologram"], allow_list=["ok", " "], colour="blue", id="has space")
    data["thresholds"]["violence"]["warn"] = 0.1
    text = str(_error(data))
    assert "colour: unknown field" in text
    assert 'version: must be a string (e.g. "1.0.0"' in text
    assert "labels[1]: unknown label 'hologram'" in text
    assert "allow_list[1]: must be a non-empty string" in text
    assert "id: 'has space' is not allowed" in text
    assert "thresholds.violence.warn: unknown field" in text


def test_combination_validation():
    data = pack_data(combinations=[
        {"name": "ok", "categories": ["real_person", "sexual"], "min_score": 0.4, "action": "block"},
        {"name": "one", "categories": ["real_person"], "min_score": 0.4, "action": "block"},
        {"name": "bad-action", "categories": ["ip", "sexual"], "min_score": 0.4, "action": "allow"},
        {"name": "bad-cat", "categories": ["ip", "nudity"], "min_score": 0.4, "action": "review"},
    ])
    text = str(_error(data))
    assert "combinations[1].categories: must list at least two different categories" in text
    assert "combinations[2].action: must be 'review' or 'block'" in text
    assert "combinations[3].categories: unknown category ['nudity']" in text


def test_null_thresholds_mean_never():
    data = pack_data()
    data["thresholds"]["ip"] = {"review": 0.5, "block": None}
    assert pack_from_dict(data).thresholds["ip"].block is None


def test_file_errors_name_the_file(write_pack, tmp_path):
    with pytest.raises(PolicyError, match="policy pack file not found"):
        load_pack(tmp_path / "missing.yaml")
    with pytest.raises(PolicyError, match=r"not valid YAML at line \d+, column \d+"):
        load_pack(write_pack("id: x\nthresholds: [unclosed\n"))
    with pytest.raises(PolicyError, match="must be a mapping"):
        load_pack(write_pack("- just\n- a list\n"))


def test_policy_error_is_a_value_error():
    assert issubclass(PolicyError, ValueError)
