"""The watermark bench: clips (`content`), the attacks the watermark claims to survive (`attacks`) and a runner.

    .venv/bin/python -m bench.watermark            # full bench; table on stdout, JSON in bench/results/watermark.json
    .venv/bin/python -m bench.watermark --quick    # fewer clips, fewer false-positive trials
"""
