"""Scoring new donors: prevalence estimates from a trained model, without retraining."""
