"""Generator bench: prompt adherence on held-out captions and sampling speed (``python -m bench.generator``)."""
