"""Matrices as colour tables: colours follow the values, gaps stay blank, mismatched labels are refused."""

from __future__ import annotations

import numpy as np
import pytest

from factorbench.leaderboard.matrices import matrix_view


def _luminance(hex_colour: str) -> float:
    r, g, b = (int(hex_colour[i:i + 2], 16) / 255 for i in (1, 3, 5))
    return 0.299 * r + 0.587 * g + 0.114 * b


def test_darker_cells_for_larger_values_and_readable_text():
    view = matrix_view(np.array([[0.0, 0.5, 1.0], [np.nan, 0.25, 0.75]]), row_labels=["a", "b"],
                       col_labels=["z0", "z1", "z2"], cmap="Blues", vmin=0.0)
    top = view["rows"][0]["cells"]
    assert [c["text"] for c in top] == ["0.00", "0.50", "1.00"] and top[2]["v"] == 1.0
    assert _luminance(top[0]["bg"]) > _luminance(top[1]["bg"]) > _luminance(top[2]["bg"])
    assert top[0]["fg"] != top[2]["fg"]  # dark text on light cells, light text on dark ones
    gap = view["rows"][1]["cells"][0]
    assert gap["v"] is None and gap["text"] == "" and gap["bg"] == "#ffffff"
    assert view["cols"] == ["z0", "z1", "z2"] and [r["label"] for r in view["rows"]] == ["a", "b"]
    assert view["legend"]["min"] == "0.00" and view["legend"]["max"] == "1.00"
    assert view["legend"]["gradient"].startswith("linear-gradient(to right, #")


def test_constant_matrix_and_bad_input():
    view = matrix_view(np.ones((1, 1)), row_labels=["a"], col_labels=["z0"])
    assert view["rows"][0]["cells"][0]["text"] == "1.00"
    with pytest.raises(ValueError, match="labels"):
        matrix_view(np.ones((2, 3)), row_labels=["a"], col_labels=["z0", "z1", "z2"])
    with pytest.raises(ValueError, match="2-D"):
        matrix_view(np.ones(3), row_labels=["a"], col_labels=["z0"])
