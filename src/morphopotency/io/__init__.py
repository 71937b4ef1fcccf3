"""Reading and writing the files the workflow exchanges."""
