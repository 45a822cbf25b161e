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
    figure = go.Figure()
    front = points[on_front].sort_values("comm_gb")
    figure.add_trace(
        go.Scatter(
            x=points["comm_gb"], y=points["average"], mode="markers", name="entries",
            marker={"size": 9, "color": ["#f97316" if f else "#94a3b8" for f in on_front],
                    "line": {"width": 1, "color": "#334155"}},
            text=hover, hovertemplate="%{text}<extra></extra>",
        )
    )
    figure.add_trace(
        go.Scatter(
            x=front["comm_gb"], y=front["average"], mode="lines", name="Pareto front",
            line={"color": "#f97316", "dash": "dot", "shape": "hv"}, hoverinfo="skip",
        )
    )
    figure.update_layout(
        title=f"{challenge.title}: {challenge.board.average_label.replace(' (↑)', '')} vs communication cost",
        xaxis={"title": "Communication cost (GB, log scale)", "type": "log"},
        yaxis={"title": f"Average {challenge.metric}"},
        legend={"orientation": "h", "y": -0.2},
        margin={"l": 60, "r": 20, "t": 60, "b": 60},
        height=480,
    )
    return figure
