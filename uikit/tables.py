"""The sortable HTML table the rooms show (boards, queue, arena): its stylesheet, header cells and the
script that turns a header click into a server-side sort."""

from __future__ import annotations

from html import escape


def sortable_header(key: str, label: str, numeric: bool, sort_key: str, descending: bool) -> str:
    """A ``<th>`` that SORT_ON_CLICK_JS turns into a server-side sort; the sorted column shows its direction."""
    arrow = (" ▼" if descending else " ▲") if key == sort_key else ""
    aria = ("descending" if descending else "ascending") if arrow else "none"
    css = "num" if numeric else ""
    return (f'<th data-sort="{key}" class="{css}" aria-sort="{aria}" title="Sort by {escape(label)}">'
            f"{escape(label)}{arrow}</th>")


BOARD_CSS = """
.board-table { width: 100%; border-collapse: collapse; font-size: 14px; }
.board-table th { cursor: pointer; user-select: none; text-align: left; padding: 6px 8px;
  border-bottom: 2px solid var(--border-color-primary); white-space: nowrap; }
.board-table th:hover { background: var(--background-fill-secondary); }
.board-table td { padding: 5px 8px; border-bottom: 1px solid var(--border-color-primary); }
.board-table .num { text-align: right; font-variant-numeric: tabular-nums; }
.board-table td.empty { text-align: center; padding: 24px; color: var(--body-text-color-subdued); }
.board-summary { padding: 6px 2px; color: var(--body-text-color-subdued); font-size: 13px; }
.src { border-radius: 8px; padding: 1px 7px; font-size: 12px; }
.src-published { background: #eef2ff; color: #3730a3; }
.src-verified { background: #dcfce7; color: #166534; }
.src-partial { background: #fef3c7; color: #92400e; }
.recheck-flag { color: #b91c1c; font-weight: 600; }
.board-caption { padding: 4px 2px 8px; font-size: 13px; }
.board-notice { padding: 6px 10px; margin-bottom: 6px; border-radius: 6px; background: #fef9c3; color: #713f12;
  font-size: 13px; }
"""

# Header clicks ask the server to sort (event delegation survives re-renders of the table).
SORT_ON_CLICK_JS = """
element.addEventListener('click', (event) => {
  const th = event.target.closest('th[data-sort]');
  if (th) { trigger('click', {sort: th.dataset.sort}); }
});
"""
