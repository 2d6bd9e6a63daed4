"""Generation: submitting moderated jobs, the worker that runs them, and the pipeline that makes, marks, signs and
records each video."""
