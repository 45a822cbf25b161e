"""Average vs communication cost, per FlowerTune board, with the Pareto front highlighted."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from challenges.definitions import Challenge
from leaderboard.ranking import pareto_front
from leaderboard.render import format_cost

NO_COSTS_NOTE = ("No entry on this board has a communication cost yet: the plot appears once an entry "
                 "reports one.")


def _missing_note(missing: int) -> str | None:
    if not missing:
        return None
    entries = "1 entry" if missing == 1 else f"{missing:,} entries"
    verb = "is" if missing == 1 else "are"
    return f"{entries} without a communication cost {verb} not shown."


def efficiency_figure(challenge: Challenge, frame: pd.DataFrame) -> go.Figure:
    """Scatter of every ranked entry with a known cost (log-scale x); the front = best score for its budget.
    Partial runs are not ranked, so they are not plotted. A board where no entry has a cost gets an empty figure
    that says so."""
    frame = frame[frame["source"] != "partial"]
    costed = (frame["comm_gb"].notna() & (frame["comm_gb"] > 0)).to_numpy()
    points = frame[costed]
    on_front = np.array(pareto_front(points["comm_gb"].tolist(), points["average"].tolist()), dtype=bool)
    hover = pd.Series([
        f"#{r.rank} {r.team or r.name}<br>{r.base_model or r.model_repo}<br>"
        f"{format_cost(r.comm_gb)} · average {r.average:.2f} · {r.source}"
        for r in points.itertuples()
    ], index=points.index, dtype=object)
    front = points[on_front].sort_values("comm_gb")
    rest = points[~on_front]
    figure = go.Figure()
    figure.add_trace(go.Scatter(
        x=rest["comm_gb"], y=rest["average"], mode="markers", name="entries", text=hover[rest.index],
        hovertemplate="%{text}<extra></extra>",
        marker={"size": 9, "color": "#94a3b8", "line": {"width": 1, "color": "#334155"}},
    ))
    figure.add_trace(go.Scatter(  # drawn last so a front point is never hidden under another entry
        x=front["comm_gb"], y=front["average"], mode="lines+markers", name="Pareto front",
        text=hover[front.index], hovertemplate="%{text}<extra>Pareto front</extra>",
        line={"color": "#f97316", "dash": "dot", "shape": "hv"},
        marker={"size": 11, "color": "#f97316", "line": {"width": 1, "color": "#7c2d12"}},
    ))
    figure.update_layout(
        title=f"{challenge.title}: {challenge.board.average_label.replace(' (↑)', '')} vs communication cost",
        xaxis={"title": "Communication cost (GB, log scale)", "type": "log"},
        yaxis={"title": f"Average {challenge.metric}"},
        legend={"orientation": "h", "y": -0.2},
        margin={"l": 60, "r": 20, "t": 60, "b": 60},
        height=480,
    )
    if points.empty:
        figure.update_layout(xaxis={"visible": False}, yaxis={"visible": False}, showlegend=False)
        figure.add_annotation(text=NO_COSTS_NOTE, x=0.5, y=0.5, xref="paper", yref="paper", showarrow=False,
                              font={"size": 15})
    elif note := _missing_note(int((~costed).sum())):
        figure.add_annotation(text=note, x=0, y=1.02, xref="paper", yref="paper", xanchor="left",
                              yanchor="bottom", showarrow=False, font={"size": 12, "color": "#64748b"})
    return figure
