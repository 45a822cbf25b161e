"""Model loading, below the feature rooms: one base model kept in memory with adapters attached by name,
shared by the evaluator and the arena."""
