"""``python -m training.generator``: train the built-in video DiT (see :mod:`training.generator.train`)."""

from .train import main

if __name__ == "__main__":
    main()
