"""Merge recipes (mergekit's YAML format): parsing with line-pointed errors, pinned component references and
the starter-kit templates. A shared room: the submission checks and the evaluator's merge run both read it."""
