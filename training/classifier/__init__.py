"""Training of the prompt classifier's head (``python -m training.classifier``): features, fit, evaluation through
the policy engine, and the model card."""
