"""tiktoken 0.14.0's own test suite, run against llmprep (a package so its relative imports work)."""
