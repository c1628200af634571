"""Markdown tables and figures for the benchmark and chaos reports."""


def table(header, rows):
    lines = ['| ' + ' | '.join(header) + ' |', '|' + '|'.join('---' for _ in header) + '|']
    lines += ['| ' + ' | '.join(str(cell) for cell in row) + ' |' for row in rows]
    return '\n'.join(lines)


def percentile(values, p):
    """Nearest-rank percentile: with 20 values, p99 is the largest."""
    ordered = sorted(values)
    if not ordered:
        return None
    rank = max(1, -(-len(ordered) * p // 100))
    return ordered[int(rank) - 1]


def ms(ns):
    return '—' if ns is None else f'{ns / 1e6:,.0f} ms'


def seconds(ns):
    return '—' if ns is None else f'{ns / 1e9:.2f} s'
