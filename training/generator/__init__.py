"""Training (``python -m training.generator``) and prompt-adherence evaluation
(``python -m training.generator.evaluate``) of the built-in video model."""
