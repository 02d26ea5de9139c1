// The Grafana dashboard's queries against the metrics the services export.

interface Panel {
  title?: string
  type?: string
  targets?: Array<{ expr?: string }>
  panels?: Panel[]
}

/** Metric-looking names in a PromQL expression (label names, functions and variables aside). */
export function metricsIn(expr: string): string[] {
  const withoutStrings = expr.replace(/"[^"]*"/g, '""').replace(/\{[^}]*\}/g, '{}').replace(/\[[^\]]*\]/g, '[]')
  const names = withoutStrings.match(/\b(?:app|process|nodejs)_[a-z0-9_]+\b/g) ?? []
  return [...new Set(names)]
}

/** The exported name a series name belongs to: a histogram's _bucket, _sum and _count are its own. */
const baseName = (series: string, known: Set<string>) => (known.has(series) ? series : series.replace(/_(bucket|sum|count)$/, ''))

/** Problems of a dashboard: queries naming metrics nobody exports, panels without a query, the metrics a deployer needs not shown. */
export function dashboardProblems(dashboard: { panels?: Panel[]; templating?: { list?: Array<{ name?: string; type?: string }> } }, exported: Set<string>, required: readonly string[]): string[] {
  const problems: string[] = []
  const shown = new Set<string>()
  const panels = (dashboard.panels ?? []).flatMap((p) => [p, ...(p.panels ?? [])])
  for (const p of panels) {
    if (p.type === 'row') continue
    const exprs = (p.targets ?? []).map((t) => t.expr ?? '')
    if (exprs.length === 0 || exprs.some((e) => e.trim() === '')) problems.push(`panel "${p.title}": a target without a query`)
    for (const expr of exprs) {
      for (const name of metricsIn(expr)) {
        const metric = baseName(name, exported)
        if (!exported.has(metric)) problems.push(`panel "${p.title}": ${name} is not a metric the services export (packages/platform/src/metrics.ts)`)
        shown.add(metric)
      }
    }
  }
  for (const r of required) if (!shown.has(r)) problems.push(`no panel shows ${r}`)
  if (!(dashboard.templating?.list ?? []).some((v) => v.type === 'datasource')) problems.push('no datasource variable: the dashboard would be tied to one Prometheus')
  return problems
}
