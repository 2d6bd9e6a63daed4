import pytest

from policies import (
    CategoryThresholdRule,
    Decision,
    DenyListRule,
    MatchedRule,
    PolicyEngine,
    PolicyError,
    Subject,
    load_pack,
    pack_from_dict,
)

from .conftest import pack_data, scores


@pytest.fixture
def engine():
    return PolicyEngine(pack_from_dict(pack_data(combinations=[
        {"name": "deepfake-sexual", "categories": ["real_person", "sexual"], "min_score": 0.3, "action": "block"},
    ])))


def test_allow_when_nothing_fires(engine):
    d = engine.evaluate(text="a cat on a mat", scores=scores())
    assert d == Decision(action="allow", categories=scores(), flagged=[], matched_rules=[], policy="test-pack@1.0.0")


def test_block_with_reason(engine):
    d = engine.evaluate(text="x", scores=scores(violence__graphic=0.93, violence=0.6))
    assert d.action == "block"
    assert d.flagged == ["violence", "violence/graphic"]
    assert MatchedRule("threshold:violence/graphic", "block",
                       "violence/graphic score 0.93 ≥ block threshold 0.80") in d.matched_rules
    assert MatchedRule("threshold:violence", "review",
                       "violence score 0.60 ≥ review threshold 0.50 (block threshold 0.80)") in d.matched_rules


def test_threshold_is_inclusive(engine):
    assert engine.evaluate(text="x", scores=scores(hate=0.8)).action == "block"
    assert engine.evaluate(text="x", scores=scores(hate=0.5)).action == "review"
    assert engine.evaluate(text="x", scores=scores(hate=0.4999)).action == "allow"


def test_deny_list_blocks_whatever_the_scores(engine):
    d = engine.evaluate(text="please show the Forbidden   Phrase now", scores=scores())
    assert d.action == "block"
    assert d.matched_rules == [MatchedRule("deny_list", "block", "deny-list phrase 'forbidden phrase' found in the "
                                                                 "prompt")]
    # zero-width characters and full-width letters do not hide a phrase
    assert engine.evaluate(text="forbid\u200bden ｐｈｒａｓｅ", scores=scores()).action == "block"
    # phrases match whole words only; Chinese phrases match inside text
    assert engine.evaluate(text="unforbidden phrases", scores=scores()).action == "allow"
    assert engine.evaluate(text="这是禁止词的例子", scores=scores()).action == "block"


def test_allow_list_lowers_review_only(engine):
    d = engine.evaluate(text="Kill the process and restart", scores=scores(violence=0.6))
    assert d.action == "allow"
    assert d.matched_rules[-1].rule == "allow_list"
    assert d.matched_rules[-1].reason.endswith("review lowered to allow")
    assert d.flagged == ["violence"]  # still reported, so the audit log shows what was waived

    d = engine.evaluate(text="kill the process", scores=scores(violence=0.95))
    assert d.action == "block"
    assert "ignored: an allow-list phrase never lowers a block" in d.matched_rules[-1].reason

    d = engine.evaluate(text="kill the process forbidden phrase", scores=scores())
    assert d.action == "block"


def test_allow_list_alone_changes_nothing(engine):
    d = engine.evaluate(text="kill the process", scores=scores())
    assert d.action == "allow" and d.matched_rules == []


def test_combination_rule(engine):
    d = engine.evaluate(text="x", scores=scores(real_person=0.45, sexual=0.35))
    assert d.action == "block"
    combo = [m for m in d.matched_rules if m.rule == "combination:deepfake-sexual"][0]
    assert combo.reason == "real_person 0.45 and sexual 0.35 all ≥ 0.30 (deepfake-sexual → block)"
    assert d.flagged == ["sexual", "real_person"]  # canonical category order


def test_missing_categories_are_not_judged(engine):
    d = engine.evaluate(text="x", scores={"real_person": 0.6})
    assert d.action == "review" and d.categories == {"real_person": 0.6}


@pytest.mark.parametrize("bad", [{"violence": 1.2}, {"violence": float("nan")}, {"violence": "high"},
                                 {"nudity": 0.1}, {}])
def test_bad_scores_are_refused(engine, bad):
    with pytest.raises(ValueError):
        engine.evaluate(text="x", scores=bad)


def test_keyword_only_and_types(engine):
    with pytest.raises(TypeError):
        engine.evaluate("x", scores())  # type: ignore[misc]
    with pytest.raises(TypeError):
        engine.evaluate(text=None, scores=scores())  # type: ignore[arg-type]


def test_deterministic_and_serialisable(engine):
    kwargs = dict(text="kill the process", scores=scores(violence=0.7, ip=0.99, sexual=0.85))
    a, b = engine.evaluate(**kwargs), engine.evaluate(**kwargs)
    assert a == b and a.to_dict() == b.to_dict()
    import json

    assert json.loads(json.dumps(a.to_dict()))["policy"] == "test-pack@1.0.0"
    # the order the scores arrive in does not matter
    reordered = dict(reversed(list(kwargs["scores"].items())))
    assert engine.evaluate(text="kill the process", scores=reordered) == a


def test_pack_without_any_rule_is_refused():
    data = pack_data(deny_list=[])
    data["thresholds"] = {c: {"review": None, "block": None} for c in data["thresholds"]}
    with pytest.raises(PolicyError, match="no rule"):
        PolicyEngine(pack_from_dict(data))


def test_rules_are_small_and_composable():
    subject = Subject(text="a forbidden phrase", scores={"ip": 0.7})
    assert DenyListRule(("forbidden phrase",)).evaluate(subject).action == "block"
    assert CategoryThresholdRule("ip", review=0.5, block=None).evaluate(subject).reason == \
        "ip score 0.70 ≥ review threshold 0.50 (never blocks by score)"
    assert CategoryThresholdRule("hate", review=0.5, block=0.8).evaluate(subject) is None


def test_shipped_default_pack_semantics():
    engine = PolicyEngine(load_pack("default"))
    assert engine.evaluate(text="child porn", scores=scores()).action == "block"
    assert engine.evaluate(text="x", scores=scores(ip=0.99)).action == "review"  # IP never blocks by default
    assert engine.evaluate(text="x", scores=scores(real_person=0.9, deception=0.9)).action == "block"
    assert engine.evaluate(text="x", scores=scores(sexual__minors=0.45)).action == "block"
    strict = PolicyEngine(load_pack("strict"))
    assert strict.evaluate(text="x", scores=scores(ip=0.95)).action == "block"
