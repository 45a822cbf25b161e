"""Merge recipes (mergekit's YAML format): parsing with line-pointed errors, pinned component references,
the starter-kit templates, running a recipe and merging from pinned Hub snapshots. A shared room: the
submission checks, the evaluator (scoring a recipe) and the arena (serving a verified recipe entry) read it."""
