"""``syncd lint``'s report, for people (``LintReport.to_dict`` is the JSON)."""

from __future__ import annotations

from syncd.base.textsafe import safe_text
from syncd.core.lint import LintReport


def lint_text(site: str, report: LintReport, *, api_calls: int) -> str:
    """The report for people."""
    problems = sum(1 for f in report.findings if f.count)
    lines = [f"site {site} ({report.catalog.value}, {report.variants} variants, "
             f"{api_calls} API calls): {problems} kind(s) of problem"]
    for f in report.findings:
        if not f.checked:
            lines.append(f"  -        {f.title}: not checked ({f.note})")
            continue
        mark = f.severity.value.upper() if f.count else "ok"
        lines.append(f"  {mark:<8} {f.title}: {f.count}")
        if f.count:
            lines.extend(f"             e.g. {ex}" for ex in f.examples)
            lines.append(f"             -> {f.hint}")
        if f.note:
            lines.append(f"             ({f.note})")
    return safe_text("\n".join(lines))
