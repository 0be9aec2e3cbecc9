package report

import (
	"bytes"
	"html/template"
	"slices"
)

// css is inlined into every page so a report is one file that renders offline,
// from an artefact store or a mail attachment, with nothing fetched.
const css = `
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#111827;margin:24px auto;max-width:1100px;padding:0 16px}
h1{font-size:22px;margin:0 0 6px}h2{font-size:18px;margin:28px 0 8px;border-bottom:1px solid #e5e7eb;padding-bottom:4px}
h3{font-size:15px;margin:16px 0 6px}.meta{color:#4b5563;margin:2px 0}code{font-size:12px;color:#374151}
table{border-collapse:collapse;width:100%;margin:6px 0 12px}th,td{border:1px solid #e5e7eb;padding:5px 8px;text-align:left;vertical-align:top}
th{background:#f3f4f6;font-weight:600}td.num{text-align:right;font-variant-numeric:tabular-nums}
.src,.why{font-size:12px;color:#4b5563;margin-top:3px;overflow-wrap:anywhere}
.pass{background:#dcfce7;color:#14532d}.warn{background:#fef3c7;color:#78350f}.fail{background:#fee2e2;color:#7f1d1d}.nm{background:#e5e7eb;color:#374151}
.badge{display:inline-block;padding:2px 10px;border-radius:10px;margin-right:6px;font-weight:600}
.callout{padding:6px 10px;border-radius:4px;margin:6px 0}dl.facts{display:grid;grid-template-columns:max-content 1fr;gap:2px 14px;margin:6px 0}
dl.facts dt{color:#4b5563}dl.facts dd{margin:0}svg{max-width:100%;height:auto;display:block;margin:6px 0 14px}
svg text{font-family:system-ui,sans-serif}.tick{font-size:11px;fill:#4b5563}.lbl{font-size:12px;fill:#374151}
.node{font-size:13px;font-weight:600;fill:#111827}.val{font-size:10px;fill:#111827;paint-order:stroke;stroke:#fff;stroke-width:3px}.missing{font-size:13px;fill:#6b7280;font-style:italic}
.bar-p50{fill:#9ecae1}.bar-p99{fill:#4292c6}.bar-max{fill:#08519c}.grid{stroke:#e5e7eb}.sep{stroke:#9ca3af}
.limit{stroke:#dc2626;stroke-width:1.5;stroke-dasharray:4 3}.frame{fill:none;stroke:#d1d5db}
.s-idle{fill:none;stroke:#9ca3af;stroke-width:2;stroke-dasharray:6 3}.s-loaded{fill:none;stroke:#2563eb;stroke-width:2}
.dot-idle{fill:#9ca3af}.dot-loaded{fill:#2563eb}.s-worse{fill:none;stroke:#dc2626;stroke-width:2.5}
`

// svgTmpl draws a chart; shared by the report and comparison pages.
const svgTmpl = `{{define "svg"}}<svg width="{{.W}}" height="{{.H}}" viewBox="0 0 {{.W}} {{.H}}" role="img" aria-label="{{.Label}}">
{{range .Lines}}<line x1="{{.X1}}" y1="{{.Y1}}" x2="{{.X2}}" y2="{{.Y2}}" class="{{.Class}}"/>
{{end}}{{range .Rects}}<rect x="{{.X}}" y="{{.Y}}" width="{{.W}}" height="{{.H}}" class="{{.Class}}">{{if .Title}}<title>{{.Title}}</title>{{end}}</rect>
{{end}}{{range .Polys}}<polyline points="{{.Points}}" class="{{.Class}}"/>
{{end}}{{range .Over}}<line x1="{{.X1}}" y1="{{.Y1}}" x2="{{.X2}}" y2="{{.Y2}}" class="{{.Class}}"/>
{{end}}{{range .Dots}}<circle cx="{{.X}}" cy="{{.Y}}" r="3" class="{{.Class}}"/>
{{end}}{{range .Texts}}<text x="{{.X}}" y="{{.Y}}" text-anchor="{{.Anchor}}" class="{{.Class}}">{{.Text}}</text>
{{end}}</svg>
{{end}}`

const reportTmpl = `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.V.Title}}</title><style>{{.CSS}}</style></head>
<body>
<h1>{{.V.Title}}</h1>
<p class="meta">Generated {{.V.Generated}} · schema <code>{{.Schema}}</code></p>
<p class="meta">Thresholds: {{.V.Thresholds}}</p>
<p>{{range .V.Counts}}<span class="badge {{.Class}}">{{.N}} {{.Verdict}}</span>{{end}}</p>
<h2>Claims</h2>
<table><thead><tr><th>Claim</th><th>Node</th><th>Threshold (source)</th><th>Measured</th><th>Verdict</th></tr></thead><tbody>
{{range .V.Claims}}<tr><td>{{.Claim}}<div><code>{{.ID}}</code></div></td><td>{{.Node}}</td><td>{{.Threshold}}<div class="src">{{.Source}}</div></td><td>{{.Measured}}</td><td class="{{.Class}}"><strong>{{.Verdict}}</strong>{{if .Why}}<div class="why">{{.Why}}</div>{{end}}</td></tr>
{{end}}</tbody></table>
<h2>Disk latency per node</h2>
{{template "svg" .Latency}}
<h2>CPU steal over time</h2>
{{range .Steal}}{{template "svg" .}}{{end}}
{{range .V.Nodes}}<h2>Node {{.Heading}}</h2>
<p class="meta">Benchmark {{.Run}}.</p>
<h3>Disk</h3>
<dl class="facts">{{range .Facts}}<dt>{{.Name}}</dt><dd>{{.Value}}</dd>{{end}}</dl>
{{template "table" (tbl $.LatencyHeader .Disk 1)}}
{{if .FlushSuspect}}<div class="callout warn"><strong>Flush suspect:</strong> {{.FlushSuspect}}</div>{{end}}
{{range .DiskErrors}}<div class="callout nm">disk error: {{.}}</div>{{end}}
<h3>CPU steal</h3>
<p class="meta">{{.StealInfo}}</p>
{{if .StealMeasurable}}{{template "table" (tbl $.StealHeader .Steal 1)}}{{else}}<div class="callout nm"><strong>{{.StealWhy}}</strong></div>{{end}}
<p>Work per second per vCPU under load: {{.Work}}</p>
{{end}}
<h2>Network</h2>
{{if .V.Network}}{{template "table" (tbl .NetworkHeader .V.Network 2)}}{{else}}<p>No node-to-node RTT was measured.</p>{{end}}
{{with .V.PodNetwork}}<h2>Pod network</h2><p>{{.Info}}.</p>{{if .Rows}}{{template "table" (tbl $.PodNetworkHeader .Rows 2)}}{{end}}{{range .Notes}}<div class="callout nm">{{.}}</div>{{end}}
{{end}}{{if .V.MeshLatencyInfo}}<h2>Mesh latency</h2><p>{{.V.MeshLatencyInfo}}.</p>{{template "table" (tbl .MeshLatencyHeader .V.MeshLatency 1)}}
{{end}}{{if .V.Etcd}}<h2>etcd tuning</h2><p>The flags bootstrap gave etcd, derived from the RTT and fdatasync measured above (or set in meshready:etcd).</p>{{template "table" (tbl .EtcdHeader .V.Etcd 99)}}
{{end}}{{with .V.History}}<h2>History</h2><p>{{.Info}}.</p>{{range .Worse}}<div class="callout fail"><strong>WORSE</strong> {{.}}</div>{{end}}
{{range $.History}}{{template "svg" .}}{{end}}{{template "table" (tbl $.HistoryHeader .Rows 99)}}
{{end}}{{with .V.Upgrade}}<h2>Upgrade</h2><p><span class="badge {{.Class}}">{{.Verdict}}</span>{{.Summary}}.</p>
{{if .Traffic}}<p>Load: {{.Traffic}}.</p>{{end}}{{template "table" (tbl $.UpgradeHeader .Nodes 2)}}{{if .Windows}}<h3>Windows with failed requests</h3>{{template "table" (tbl $.WindowHeader .Windows 0)}}{{end}}
{{end}}{{with .V.MeshUpgrade}}<h2>Istio upgrade</h2><p><span class="badge {{.Class}}">{{.Verdict}}</span>{{.Summary}}.</p>
{{template "table" (tbl $.MeshUpgradeHeader .Namespaces 2)}}
{{end}}{{with .V.Conformance}}<h2>Conformance</h2><p><span class="badge {{.Class}}">{{.Verdict}}</span>{{.Summary}}.</p>
{{if .Failed}}<h3>Failed</h3>{{template "table" (tbl $.ConformanceHeader .Failed 99)}}{{end}}{{if .Skipped}}<h3>Skipped, with the reason</h3>{{template "table" (tbl $.ConformanceHeader .Skipped 99)}}{{end}}
{{end}}{{if .V.Notes}}<h2>Notes</h2><ul>{{range .V.Notes}}<li>{{.}}</li>{{end}}</ul>{{end}}
</body></html>
{{define "table"}}<table><thead><tr>{{range .Header}}<th>{{.}}</th>{{end}}</tr></thead><tbody>
{{range .Rows}}<tr>{{range $i, $c := .}}<td{{if ge $i $.NumFrom}} class="num"{{end}}>{{$c}}</td>{{end}}</tr>
{{end}}</tbody></table>{{end}}`

// table is a header, rows, and the first column that holds numbers (right-aligned).
type table struct {
	Header  []string
	Rows    [][]string
	NumFrom int
}

var funcs = template.FuncMap{"tbl": func(h []string, rows [][]string, numFrom int) table { return table{h, rows, numFrom} }}

var reportPage = template.Must(template.Must(template.New("report").Funcs(funcs).Parse(reportTmpl)).Parse(svgTmpl))

// HTML renders the report as one self-contained page (inline CSS and SVG, no
// scripts, nothing fetched) so it can be archived and opened anywhere.
func HTML(r Report) ([]byte, error) {
	data := struct {
		V                                                                                view
		Schema                                                                           string
		CSS                                                                              template.CSS
		Latency                                                                          chart
		Steal                                                                            []chart
		LatencyHeader, StealHeader, NetworkHeader, EtcdHeader, MeshLatencyHeader         []string
		ConformanceHeader, HistoryHeader, UpgradeHeader, WindowHeader, MeshUpgradeHeader []string
		PodNetworkHeader                                                                 []string
		History                                                                          []chart
	}{PodNetworkHeader: podNetworkHeader, ConformanceHeader: conformanceHeader, HistoryHeader: historyHeader, UpgradeHeader: upgradeHeader, WindowHeader: windowHeader, MeshUpgradeHeader: meshUpgradeHeader, V: buildView(r), Schema: r.Schema, CSS: template.CSS(css), Latency: latencyChart(r),
		LatencyHeader: latencyHeader, StealHeader: stealHeader, NetworkHeader: networkHeader, EtcdHeader: etcdHeader, MeshLatencyHeader: meshLatencyHeader}
	for _, n := range r.Nodes {
		data.Steal = append(data.Steal, stealChart(n, r.Thresholds.StealMeanPercent, r.Thresholds.StealMaxPercent))
	}
	if h := r.History; h != nil && len(h.Runs) > 0 {
		for _, f := range historyFigures {
			if slices.ContainsFunc(h.Series, func(s HistorySeries) bool { return s.Figure == f.name }) {
				data.History = append(data.History, historyChart(h, f, r.Thresholds))
			}
		}
	}
	var b bytes.Buffer
	if err := reportPage.Execute(&b, data); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}
