"""The true-fraction bands the validation study reports coverage in; a module of its own so that the
report (whose env has no imaging packages) can name them without importing the study's arithmetic."""

BANDS = ((0.0, 0.2, "0-0.2"), (0.2, 0.8, "0.2-0.8"), (0.8, 1.0001, "0.8-1"))
