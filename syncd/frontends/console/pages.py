"""The console's pages as HTML: overview, site, SKU, rollback, sign-in.

Pure functions of what the daemon remembers (``syncd.frontends.daemon.site_board``), the live site
statuses and the journal: no I/O here. Every value is escaped by ``syncd.frontends.console.html``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from urllib.parse import quote

from syncd.apply.absolute import ApplyReport
from syncd.core.explain import Explanation
from syncd.core.journal import JournalEntry, StockState
from syncd.core.journal_view import latest_first
from syncd.core.plan_digest import short_digest
from syncd.core.rollback import RollbackPlan
from syncd.cycle.results import PlanResult
from syncd.edges.backend.console_state import Approval, ConsoleAction
from syncd.frontends.console.auth import CSRF_FIELD, Viewer
from syncd.frontends.console.charts import bars
from syncd.frontends.console.html import Html, h, join, when
from syncd.frontends.daemon.cycle import CycleOutcome, CycleResult
from syncd.frontends.daemon.health import SiteStatus
from syncd.frontends.daemon.site_board import RunRecord, SiteBoard
from syncd.frontends.render import explain_change, state_after, state_before

MAX_CHANGES = 200
"""Changes listed on a site page (the counts always cover all)."""


def layout(title: str, body: Html, viewer: Viewer, *, flash: str = "") -> Html:
    if viewer.can_act and viewer.csrf:
        who = h('signed in: actions allowed <form class="inline" method="post" '
                'action="/ui/logout"><input type="hidden" name="{}" value="{}">'
                '<button class="secondary">Sign out</button></form>', CSRF_FIELD, viewer.csrf)
    elif viewer.can_act:
        who = Html("signed in: actions allowed")
    else:
        who = h('read-only &middot; <a href="/ui/login">sign in</a>')
    note = h('<p class="flash" role="status">{}</p>', flash) if flash else Html("")
    return h('<!doctype html><html lang="en"><head><meta charset="utf-8">'
             '<meta name="viewport" content="width=device-width, initial-scale=1">'
             '<title>{} &middot; syncd</title>'
             '<link rel="stylesheet" href="/ui/static/console.css">'
             '<script src="/ui/static/console.js" defer></script></head><body>'
             '<header><a href="/ui/">syncd</a><span>{}</span><span class="who">{}</span>'
             '</header><main>{}{}</main></body></html>', title, title, who, note, body)


def _state(status: SiteStatus | None, board: SiteBoard) -> Html:
    if status is not None and status.in_cycle:
        name = "running"
    elif status is None or status.last_outcome is None:
        name = "never"
    else:
        name = status.last_outcome.result
    extra = h(' <span class="state refused">waiting for approval</span>') \
        if board.refused is not None else Html("")
    if status is not None and status.source_error is not None:
        # Seen at once: the site's next cycles would only refuse the source again.
        extra = h(' <span class="state source_failing" title="{}">source failing</span>'
                  '<br><span class="muted source-error">{}</span>{}',
                  status.source_error, _first_line(status.source_error), extra)
    return h('<span class="state {}">{}</span>{}', name, name.replace("_", " "), extra)


def failing(status: SiteStatus | None) -> bool:
    """The site's last cycle ended badly (failed, refused, unusable source, no match), or
    its source cannot be used right now."""
    if status is not None and status.source_error is not None:
        return True
    if status is None or status.last_outcome is None:
        return False
    return status.last_outcome.result not in (CycleResult.OK, CycleResult.SKIPPED)


def budget_use(run: RunRecord, board: SiteBoard) -> float:
    """Calls of a cycle as a share of what the budget allowed during it (0..1+)."""
    rate = board.site.rate_limit
    window_s = max(run.outcome.duration_s, rate.per_s)
    allowed = rate.requests * window_s / rate.per_s
    return run.api_calls / allowed if allowed else 0.0


def overview(boards: Mapping[str, SiteBoard], statuses: Mapping[str, SiteStatus],
             viewer: Viewer, *, now_s: float,
             config_errors: Mapping[str, str] | None = None) -> Html:
    rows = []
    for name in sorted(sorted(boards), key=lambda n: not failing(statuses.get(n))):
        board, status = boards[name], statuses.get(name)
        last = board.runs[0] if board.runs else None
        error = next((r.outcome.error for r in board.runs if r.outcome.error), None)
        rate = board.site.rate_limit
        calls = (h('{} calls <span class="muted">({:.0f}% of {}/{:.0f} s)</span>',
                   last.api_calls, 100 * budget_use(last, board), rate.requests, rate.per_s)
                 if last else Html("&ndash;"))
        next_at = status.retry_at_s or status.next_due_at_s if status else None
        rows.append(h(
            '<tr data-site="{}"><td><a href="/ui/site/{}">{}</a></td><td>{}</td>'
            '<td>{}<br><span class="muted">{}</span></td><td>{}</td><td>{}</td>'
            '<td class="muted">{}</td></tr>',
            name, name, name, _state(status, board),
            when(last.ended_at_s if last else None, now_s),
            last.outcome.summary if last else "", when(next_at, now_s), calls,
            _first_line(error) if error else ""))
    body = h('<h1>Sites</h1><table id="sites"><thead><tr><th>Site</th><th>State</th>'
             '<th>Last cycle</th><th>Next cycle</th><th>API calls (last cycle)</th>'
             '<th>Last error</th></tr></thead><tbody>{}</tbody></table>{}', join(rows),
             _disabled_sites(config_errors or {}, statuses))
    return layout("Overview", body, viewer)


def _disabled_sites(errors: Mapping[str, str], statuses: Mapping[str, SiteStatus]) -> Html:
    """The sites whose file in sites_dir is invalid, and what became of each."""
    if not errors:
        return Html("")
    rows = [h('<tr data-site="{}"><td>{}</td><td>{}</td><td class="muted">{}</td></tr>',
              name, name, "runs its previous configuration" if name in statuses else "disabled",
              errors[name]) for name in sorted(errors)]
    return h('<h2>Disabled sites</h2><p class="muted">Their file in sites_dir is invalid: fix '
             'it, then reload (SIGHUP).</p><table id="disabled-sites"><thead><tr><th>Site</th>'
             '<th>State</th><th>Error</th></tr></thead><tbody>{}</tbody></table>', join(rows))


def _first_line(text: str) -> str:
    """The headline of an error; a headline ending in ':' keeps its first detail line."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if not lines:
        return ""
    return f"{lines[0]} {lines[1]}" if lines[0].endswith(":") and len(lines) > 1 else lines[0]


def _action(url: str, label: str, viewer: Viewer, *, confirm: str = "",
            fields: Mapping[str, str] | None = None, secondary: bool = False) -> Html:
    if not viewer.can_act:
        return Html("")
    hidden = join(h('<input type="hidden" name="{}" value="{}">', k, v)
                  for k, v in {CSRF_FIELD: viewer.csrf, **(fields or {})}.items())
    return h('<form class="inline" method="post" action="{}" data-confirm="{}">{}'
             '<button{}>{}</button></form> ', url, confirm, hidden,
             Html(' class="secondary"') if secondary else Html(""), label)


def site_page(board: SiteBoard, status: SiteStatus | None, journal: Sequence[JournalEntry],
              viewer: Viewer, *, now_s: float, flash: str = "",
              approval: Approval | None = None,
              actions: Sequence[ConsoleAction] = ()) -> Html:
    """A site's page; ``journal``: the tail of its journal, oldest first; ``approval``:
    the approval waiting for the site's next full cycle; ``actions``: the console's recent
    actions on the site, newest first."""
    name = board.site.name
    parts: list[Html] = [h('<h1>Site {} {}</h1>', name, _state(status, board))]
    parts.append(h('<p>{}<form class="inline" method="get" action="/ui/site/{}/sku">'
                   '<input type="text" name="sku" placeholder="SKU" aria-label="SKU"> '
                   '<button class="secondary">Explain SKU</button></form></p>',
                   _action(f"/ui/site/{name}/cycle", "Run a cycle now", viewer), name))
    if board.stale:
        parts.append(h('<p class="flash stale" id="approval-stale" role="status">Approval '
                       'not applied: {}</p>', board.stale))
    if board.refused is not None:
        parts.append(_refusal(name, board.refused, approval, viewer))
    parts.append(_charts(board))
    parts.append(_latest_plan(board, now_s))
    parts.append(_runs(board, viewer, now_s))
    parts.append(_actions(actions, now_s))
    parts.append(_journal(journal))
    return layout(f"Site {name}", join(parts), viewer, flash=flash)


def _refusal(name: str, refused: PlanResult, approval: Approval | None,
             viewer: Viewer) -> Html:
    """The refused plan, its digest, and the approval of exactly that plan."""
    failed = join(h('<li>{}: {}</li>', g.guard.value, g.message)
                  for g in refused.guards if not g.passed)
    short = short_digest(refused.digest)
    if approval is not None and approval.digest == refused.digest:
        approve = h('<p class="muted">An approval of plan {} is waiting for the next cycle '
                    '({}).</p>', short, approval.by)
    else:
        approve = _action(f"/ui/site/{name}/approve", "Approve once", viewer,
                          confirm="Apply this plan, exactly as shown, with the guards "
                                  "overridden, once?", fields={"digest": refused.digest})
    return h('<section class="box refusal" id="refusal"><h2>Refused plan waiting for '
             'approval</h2><p>{} change(s) refused by the safety guards:</p><ul>{}</ul>'
             '<p>Plan <code class="digest">{}</code>: an approval applies exactly this plan; '
             'if the next cycle plans anything else, it is refused again.</p>{}</section>',
             len(refused.plan.changes), failed, short, approve)


def _actions(actions: Sequence[ConsoleAction], now_s: float) -> Html:
    if not actions:
        return Html("")
    rows = join(h('<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>',
                  when(a.at_s, now_s), a.action, a.by, "yes" if a.allowed else "refused",
                  a.detail) for a in actions)
    return h('<section class="box" id="actions"><h2>Recent actions</h2><table><thead><tr>'
             '<th>When</th><th>Action</th><th>By</th><th>Done</th><th>Detail</th></tr>'
             '</thead><tbody>{}</tbody></table></section>', rows)


def _charts(board: SiteBoard) -> Html:
    runs = list(reversed(board.runs))
    labels = [r.outcome.kind + " " + r.outcome.result for r in runs]
    return h('<section class="charts">{}{}{}</section>',
             bars("API calls per cycle", [r.api_calls for r in runs], labels),
             bars("Changes per run", [r.outcome.planned for r in runs], labels),
             bars("Budget use", [100 * budget_use(r, board) for r in runs], labels,
                  limit=100, unit="%"))


def _latest_plan(board: SiteBoard, now_s: float) -> Html:
    planned = board.latest
    if planned is None:
        return h('<section id="plan"><h2>Latest plan</h2><p class="muted">No cycle has '
                 'planned yet.</p></section>')
    plan = planned.plan
    rows = join(h('<tr><td><a href="/ui/site/{}/sku/{}">{}</a></td><td>{}</td>'
                  '<td class="num">{}</td><td class="num">{}</td><td>{}</td>'
                  '<td title="{}">{}</td></tr>',
                  board.site.name, quote(c.variant.sku, safe=""), c.variant.sku or "(no SKU)",
                  c.variant.product_name, state_before(c), state_after(c), explain_change(c),
                  c.row.source if c.row is not None else "",
                  f"{Path(c.row.source).name}:{c.row.line}" if c.row is not None else "")
                for c in plan.changes[:MAX_CHANGES])
    more = (h('<p class="muted">{} more not listed.</p>', len(plan.changes) - MAX_CHANGES)
            if len(plan.changes) > MAX_CHANGES else Html(""))
    notes = h('<p class="muted">{} {} &middot; {} store variants, {} source rows, '
              '{} matched &middot; {} ambiguous SKU(s), {} unmatched row(s), '
              '{} skipped row(s) &middot; planned {}</p>',
              planned.kind.value, "walk", plan.store_variants, plan.source_rows, plan.matched,
              len(plan.ambiguous), len(plan.unmatched_rows), len(plan.skipped),
              when(board.latest_at_s, now_s))
    return h('<section id="plan"><h2>Latest plan: {} change(s)</h2>{}{}<table><thead><tr>'
             '<th>SKU</th><th>Product</th><th class="num">Before</th><th class="num">After'
             '</th><th>Reason</th><th>Source</th></tr></thead><tbody>{}</tbody></table>{}'
             '</section>', len(plan.changes), _applied(board.latest_run), notes, rows, more)


def applied_state(outcome: CycleOutcome) -> tuple[str, str]:
    """Whether a cycle's plan reached the store: (css class, label)."""
    if outcome.result is CycleResult.REFUSED or outcome.written == 0 < outcome.planned:
        return "failed", "Not applied"
    if outcome.written >= outcome.planned and outcome.failed == 0:
        return "ok", "Applied"
    return "refused", "Applied in part"


def _applied(run: RunRecord | None) -> Html:
    if run is None:
        return Html("")
    o = run.outcome
    css, label = applied_state(o)
    return h('<p id="plan-applied"><span class="state {}">{}</span> <span class="muted">{} '
             'of {} written, {} failed ({} cycle: {})</span></p>', css, label, o.written,
             o.planned, o.failed, o.kind, o.result.replace("_", " "))


def _runs(board: SiteBoard, viewer: Viewer, now_s: float) -> Html:
    rows = []
    for r in board.runs:
        o = r.outcome
        undo = (h('<a href="/ui/site/{}/rollback?run={}">roll back&hellip;</a>',
                  board.site.name, r.run_id)
                if viewer.can_act and r.run_id and o.written else Html(""))
        rows.append(h('<tr><td>{}</td><td>{}</td><td><span class="state {}">{}</span>{}</td>'
                      '<td class="num">{}</td><td class="num">{}</td><td class="num">{}</td>'
                      '<td class="num">{}</td><td class="num">{:.1f} s</td><td class="mono">{}'
                      '</td><td>{}</td></tr>', when(r.ended_at_s, now_s), o.kind, o.result,
                      o.result, " (approved)" if r.forced else "", o.planned, o.written,
                      o.failed, r.api_calls, o.duration_s, r.run_id or "", undo))
    return h('<section id="runs"><h2>Recent runs</h2><table><thead><tr><th>Ended</th>'
             '<th>Kind</th><th>Result</th><th class="num">Planned</th><th class="num">'
             'Written</th><th class="num">Failed</th><th class="num">API calls</th>'
             '<th class="num">Duration</th><th>Run</th><th></th></tr></thead><tbody>{}'
             '</tbody></table></section>', join(rows))


def _value(state: StockState) -> str:
    if state.quantity is not None:
        return str(state.quantity)
    if state.in_stock is None:
        return "?"
    return "in stock" if state.in_stock else "out of stock"


def _journal(entries: Sequence[JournalEntry]) -> Html:
    """The writes of ``entries`` (oldest first), one line each with its latest state: a
    write's pending line and its outcome line are one write, not two."""
    views = latest_first(list(entries))
    rows = join(h('<tr data-write="{}"><td>{}</td><td class="mono">{}</td><td>{}</td>'
                  '<td class="num">{}</td><td class="num">{}</td><td>{}</td></tr>',
                  w.pending.write_id, f"{w.settled_at or w.pending.time:%Y-%m-%d %H:%M:%S}",
                  w.pending.run_id, w.pending.sku, _value(w.pending.before),
                  _value(w.pending.after),
                  w.outcome.value + (f": {w.note}" if w.note else ""))
                for w in views)
    return h('<section id="journal"><h2>Journal (latest {} write{})</h2><table><thead><tr>'
             '<th>Time (UTC)</th><th>Run</th><th>SKU</th><th class="num">Before</th>'
             '<th class="num">After</th><th>State</th></tr></thead><tbody>{}</tbody>'
             '</table></section>', len(views), "" if len(views) == 1 else "s", rows)


def sku_page(site: str, sku: str, e: Explanation | None, viewer: Viewer) -> Html:
    if e is None:
        body = h('<h1>SKU {}</h1><p>No cycle of site {} has planned yet: nothing to explain '
                 'from.</p>', sku, site)
        return layout(f"SKU {sku}", body, viewer)
    variants = join(h('<tr><td>{}</td><td class="mono">{}/{}{}</td><td>{}</td><td>{}</td>'
                      '<td>{}</td></tr>', v.variant.product_name, v.variant.product_id,
                      v.variant.variant_id,
                      f" @ {v.variant.location_id}" if v.variant.location_id else "",
                      v.current, v.desired or "nothing", v.why) for v in e.variants)
    rows = join(h('<li><code>{}:{}</code> {} = {}</li>', r.source, r.line, r.key,
                  r.quantity if r.quantity is not None
                  else ("in stock" if r.in_stock else "out of stock")) for r in e.rows)
    rules = join(h("<li>{}</li>", rule) for rule in e.rules)
    planned = (h('<p class="muted" id="planned">Planned from the read of the store at {} '
                 'UTC.</p>', f"{e.read_at:%Y-%m-%d %H:%M:%S}")
               if e.read_at is not None else Html(""))
    body = h('<h1>SKU {} <span class="muted">on site <a href="/ui/site/{}">{}</a></span></h1>'
             '<p class="box{}" id="summary">{}</p>{}<h2>Store variants</h2><table><thead><tr>'
             '<th>Product</th><th>Ids</th><th>At the read</th><th>Source wants</th>'
             '<th>Why</th></tr></thead><tbody>{}</tbody></table><h2>Source rows</h2><ul>{}'
             '</ul><h2>Rules</h2><ul>{}</ul>{}', sku, site, site, " stale" if e.stale else "",
             e.summary, planned, variants, rows or h("<li>none</li>"), rules,
             _journal(e.writes[::-1]))
    return layout(f"SKU {sku}", body, viewer)


def rollback_page(site: str, planned: RollbackPlan, applied: ApplyReport | None,
                  viewer: Viewer) -> Html:
    changes = join(h('<tr><td>{}</td><td>{}</td><td class="num">{}</td><td class="num">{}'
                     '</td></tr>', c.variant.sku, c.variant.product_name, state_before(c),
                     state_after(c)) for c in planned.plan.changes)
    if applied is None:
        head = h('<h1>Roll back run <span class="mono">{}</span>?</h1><p>Dry run: nothing has '
                 'been written. {} variant(s) would be restored; {} changed since the run '
                 '(left alone); {} no longer in the store; {} already restored.</p>{}',
                 planned.run_id, len(planned.plan.changes), len(planned.drifted),
                 len(planned.missing), planned.already_restored,
                 _action(f"/ui/site/{site}/rollback", "Roll back now", viewer,
                         fields={"run": planned.run_id},
                         confirm="Write the values from before this run back to the store?")
                 if planned.plan.changes else Html(""))
    else:
        head = h('<h1>Rolled back run <span class="mono">{}</span></h1><p id="result">{} '
                 'written, {} failed, {} not attempted.</p>', planned.run_id, applied.written,
                 applied.failed, applied.not_attempted)
    body = h('{}<table><thead><tr><th>SKU</th><th>Product</th><th class="num">Now</th>'
             '<th class="num">Restored to</th></tr></thead><tbody>{}</tbody></table>'
             '<p><a href="/ui/site/{}">back to site {}</a></p>', head, changes, site, site)
    return layout(f"Rollback {planned.run_id}", body, viewer)


def login_page(viewer: Viewer, *, error: str = "", enabled: bool = True) -> Html:
    if not enabled:
        body = h('<h1>Sign in</h1><p>No console token is configured: the console is '
                 'read-only. Set <code>console.token_env</code> or <code>console.token_file'
                 '</code> to allow actions.</p>')
    else:
        body = h('<h1>Sign in</h1>{}<form method="post" action="/ui/login"><label>Console '
                 'token <input type="password" name="token" autocomplete="current-password">'
                 '</label> <button>Sign in</button></form>',
                 h('<p class="flash">{}</p>', error) if error else Html(""))
    return layout("Sign in", body, viewer)
