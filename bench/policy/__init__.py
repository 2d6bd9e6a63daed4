"""The policy bench: the shipped prompt classifier and policy packs, measured against issue #5's bars.

Every prompt goes through the real path (``PromptClassifier.score_batch`` then ``PolicyEngine.evaluate`` with the
pack's thresholds, combinations, deny and allow lists). Bars are judged on the **test** split, which nothing was tuned
on; the dev split (used to choose pack thresholds) is shown beside it. Evaluation-only sets (XSTest, the Chinese dev
set, AdvBench) were never trained or tuned on.

    .venv/bin/python -m bench.policy            # table on stdout, JSON in bench/results/policy.json
    .venv/bin/python -m bench.policy --quick    # test split only, fewer latency samples
"""
