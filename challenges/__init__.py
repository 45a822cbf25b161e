"""The challenge definitions, below the feature rooms: one YAML file per challenge (beside this file) and the
parser every room reads them through (``definitions.py``)."""
