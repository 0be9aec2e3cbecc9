package report

import (
	"bytes"
	"fmt"
	"html/template"
	"strings"

	"github.com/meshready/meshready/benchmarks"
)

// compareView lines several regions' reports up claim by claim; both
// comparison renderers use it so they agree.
type compareView struct {
	Title   string
	Regions []compareRegion
	Rows    []compareRow
}

type compareRegion struct{ Name, Generated, Thresholds string }

type compareRow struct {
	ID, Claim string
	Cells     []compareCell
}

type compareCell struct{ Verdict, Class, Detail string }

func buildCompare(reports []Report) compareView {
	cv := compareView{Title: "meshready region comparison"}
	ids := append([]string{}, ClaimIDs...)
	text := map[string]string{}
	for _, r := range reports {
		v := buildView(r)
		cv.Regions = append(cv.Regions, compareRegion{
			Name: fmt.Sprintf("%s (%s)", dash(r.Region), dash(r.Provider)), Generated: v.Generated, Thresholds: v.Thresholds})
		for _, c := range r.Claims {
			if _, ok := text[c.ID]; !ok {
				text[c.ID] = c.Claim
				if !contains(ids, c.ID) {
					ids = append(ids, c.ID)
				}
			}
		}
	}
	for _, id := range ids {
		if _, ok := text[id]; !ok {
			continue
		}
		row := compareRow{ID: id, Claim: text[id]}
		for _, r := range reports {
			row.Cells = append(row.Cells, worstCell(r, id))
		}
		cv.Rows = append(cv.Rows, row)
	}
	return cv
}

func contains(xs []string, s string) bool {
	for _, x := range xs {
		if x == s {
			return true
		}
	}
	return false
}

// worstCell is a region's verdict on one claim: the worst across its nodes,
// with the value that earned it, so one bad node is never averaged away.
func worstCell(r Report, id string) compareCell {
	var worst *Claim
	count := map[benchmarks.Verdict]int{}
	n := 0
	for i := range r.Claims {
		c := &r.Claims[i]
		if c.ID != id {
			continue
		}
		n++
		count[c.Verdict]++
		if worst == nil || rank(c.Verdict) > rank(worst.Verdict) {
			worst = c
		}
	}
	if worst == nil {
		return compareCell{Verdict: "—", Class: "nm", Detail: "not in this report"}
	}
	detail := worst.Measured
	if detail == "" {
		detail = worst.Why
	}
	if worst.Node != "" {
		detail = worst.Node + ": " + detail
	}
	if n > 1 {
		var parts []string
		for _, v := range []benchmarks.Verdict{benchmarks.Pass, benchmarks.Warn, benchmarks.Fail, benchmarks.NotMeasurable} {
			if count[v] > 0 {
				parts = append(parts, fmt.Sprintf("%d %s", count[v], v))
			}
		}
		detail += fmt.Sprintf(" (%d nodes: %s)", n, strings.Join(parts, ", "))
	}
	return compareCell{Verdict: string(worst.Verdict), Class: verdictClass(worst.Verdict), Detail: detail}
}

// Compare renders regions side by side in Markdown, one row per claim and one
// column per region, to choose where to build from measured numbers.
func Compare(reports []Report) []byte {
	cv := buildCompare(reports)
	var b bytes.Buffer
	fmt.Fprintf(&b, "# %s\n\n", cv.Title)
	for _, r := range cv.Regions {
		fmt.Fprintf(&b, "- %s: generated %s; thresholds %s\n", mdText(r.Name), r.Generated, mdText(r.Thresholds))
	}
	b.WriteString("\nEach cell is the worst verdict across that region's nodes, with the value behind it.\n\n")
	header := []string{"Claim"}
	for _, r := range cv.Regions {
		header = append(header, r.Name)
	}
	var rows [][]string
	for _, row := range cv.Rows {
		cells := []string{row.Claim + " (`" + row.ID + "`)"}
		for _, c := range row.Cells {
			cells = append(cells, "**"+c.Verdict+"** "+c.Detail)
		}
		rows = append(rows, cells)
	}
	mdTable(&b, header, rows)
	return append(bytes.TrimRight(b.Bytes(), "\n"), '\n')
}

const compareTmpl = `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.V.Title}}</title><style>{{.CSS}}</style></head>
<body>
<h1>{{.V.Title}}</h1>
<ul>{{range .V.Regions}}<li><strong>{{.Name}}</strong>: generated {{.Generated}}; thresholds {{.Thresholds}}</li>{{end}}</ul>
<p class="meta">Each cell is the worst verdict across that region's nodes, with the value behind it.</p>
<table><thead><tr><th>Claim</th>{{range .V.Regions}}<th>{{.Name}}</th>{{end}}</tr></thead><tbody>
{{range .V.Rows}}<tr><td>{{.Claim}}<div><code>{{.ID}}</code></div></td>{{range .Cells}}<td class="{{.Class}}"><strong>{{.Verdict}}</strong><div class="why">{{.Detail}}</div></td>{{end}}</tr>
{{end}}</tbody></table>
</body></html>
`

var comparePage = template.Must(template.New("compare").Parse(compareTmpl))

// CompareHTML is Compare as a self-contained page with coloured verdicts, for
// sharing a region decision with people who will not read Markdown.
func CompareHTML(reports []Report) ([]byte, error) {
	var b bytes.Buffer
	err := comparePage.Execute(&b, struct {
		V   compareView
		CSS template.CSS
	}{buildCompare(reports), template.CSS(strings.TrimSpace(css))})
	if err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}
