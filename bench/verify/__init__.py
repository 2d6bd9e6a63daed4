"""The verification bench: registry lookup latency at a million records, identification of the right content id by
the full verifier and by fingerprint alone over the watermark bench's clips and attacks, false attributions on
unrelated clips and images, and the time to verify a 10 s 720p clip.

    .venv/bin/python -m bench.verify            # table on stdout, JSON in bench/results/verify.json
    .venv/bin/python -m bench.verify --quick    # 100,000 records, fewer clips and unrelated inputs
"""
