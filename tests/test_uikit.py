"""The shared UI kit's helpers for the public API."""

import json

import numpy as np
import pandas as pd

from uikit.api import json_cell


def test_table_cells_become_plain_json_and_missing_values_null():
    ranks = pd.array([1, None], dtype="Int64")  # a ranked row and an unranked sample row
    cells = [json_cell(ranks[0]), json_cell(ranks[1]), json_cell(np.float64("nan")), json_cell(np.float64(2.5)),
             json_cell(np.int64(3)), json_cell("text"), json_cell(None)]
    assert cells == [1, None, None, 2.5, 3, "text", None]
    assert json.dumps(cells) == '[1, null, null, 2.5, 3, "text", null]'
