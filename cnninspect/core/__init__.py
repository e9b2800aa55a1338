"""The framework-neutral core: model, layouts, shape rules and inference."""
