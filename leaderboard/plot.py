"""Average vs communication cost, per FlowerTune board, with the Pareto front highlighted."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from leaderboard.challenges import Challenge
from leaderboard.ranking import pareto_front
from leaderboard.render import format_cost


def efficiency_figure(challenge: Challenge, frame: pd.DataFrame) -> go.Figure:
    """Scatter of every entry with a known cost (log-scale x); the front = best score for its budget."""
    points = frame[frame["comm_gb"].notna() & (frame["comm_gb"] > 0)]
    on_front = pareto_front(points["comm_gb"].tolist(), points["average"].tolist())
    hover = [
        f"#{r.rank} {r.team or r.name}<br>{r.base_model or r.model_repo}<br>"
        f"{format_cost(r.comm_gb)} · average {r.average:.2f} · {r.source}"
        for r in points.itertuples()
    ]
    hover = pd.Series(hover, index=points.index)
    front = points[on_front].sort_values("comm_gb")
    rest = points[[not f for f in on_front]]
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
    return figure
