package report

import (
	"bytes"
	"fmt"
	"regexp"
	"strings"
)

// Markdown renders the report for terminals, pull requests and chat, where an
// HTML file would not be opened; it carries every number the HTML shows.
func Markdown(r Report) []byte {
	v := buildView(r)
	var b bytes.Buffer
	fmt.Fprintf(&b, "# %s\n\n", mdText(v.Title))
	fmt.Fprintf(&b, "Generated %s · schema `%s`\n\n", v.Generated, mdText(r.Schema))
	fmt.Fprintf(&b, "Thresholds: %s\n\n", mdText(v.Thresholds))
	fmt.Fprintf(&b, "Verdicts: %s\n\n", v.Summary)

	b.WriteString("## Claims\n\n")
	rows := make([][]string, 0, len(v.Claims))
	for _, c := range v.Claims {
		verdict := "**" + c.Verdict + "**"
		if c.Why != "" {
			verdict += ": " + c.Why
		}
		rows = append(rows, []string{c.Claim + " (`" + c.ID + "`)", c.Node,
			c.Threshold + " (" + c.Source + ")", c.Measured, verdict})
	}
	mdTable(&b, []string{"Claim", "Node", "Threshold (source)", "Measured", "Verdict"}, rows)

	for _, n := range v.Nodes {
		fmt.Fprintf(&b, "## Node %s\n\n", mdText(n.Heading))
		fmt.Fprintf(&b, "Benchmark %s.\n\n", n.Run)
		b.WriteString("### Disk\n\n")
		for _, f := range n.Facts {
			fmt.Fprintf(&b, "- %s: %s\n", f.Name, mdText(f.Value))
		}
		b.WriteString("\n")
		mdTable(&b, latencyHeader, n.Disk)
		if n.FlushSuspect != "" {
			fmt.Fprintf(&b, "**Flush suspect:** %s\n\n", mdText(n.FlushSuspect))
		}
		for _, e := range n.DiskErrors {
			fmt.Fprintf(&b, "- disk error: %s\n", mdText(e))
		}
		if len(n.DiskErrors) > 0 {
			b.WriteString("\n")
		}
		b.WriteString("### CPU steal\n\n")
		fmt.Fprintf(&b, "%s\n\n", mdText(n.StealInfo))
		if n.StealMeasurable {
			mdTable(&b, stealHeader, n.Steal)
		} else {
			fmt.Fprintf(&b, "**%s**\n\n", mdText(n.StealWhy))
		}
		fmt.Fprintf(&b, "Work per second per vCPU under load: %s\n\n", mdText(n.Work))
	}

	b.WriteString("## Network\n\n")
	if len(v.Network) == 0 {
		b.WriteString("No node-to-node RTT was measured.\n\n")
	} else {
		mdTable(&b, networkHeader, v.Network)
	}
	if pn := v.PodNetwork; pn != nil {
		b.WriteString("## Pod network\n\n")
		fmt.Fprintf(&b, "%s.\n\n", mdText(pn.Info))
		if len(pn.Rows) > 0 {
			mdTable(&b, podNetworkHeader, pn.Rows)
		}
		for _, n := range pn.Notes {
			fmt.Fprintf(&b, "- %s\n", mdText(n))
		}
		if len(pn.Notes) > 0 {
			b.WriteString("\n")
		}
	}
	if v.MeshLatencyInfo != "" {
		b.WriteString("## Mesh latency\n\n")
		fmt.Fprintf(&b, "%s.\n\n", mdText(v.MeshLatencyInfo))
		mdTable(&b, meshLatencyHeader, v.MeshLatency)
	}
	if len(v.Etcd) > 0 {
		b.WriteString("## etcd tuning\n\n")
		b.WriteString("The flags bootstrap gave etcd, derived from the RTT and fdatasync measured above (or set in meshready:etcd).\n\n")
		mdTable(&b, etcdHeader, v.Etcd)
	}
	if h := v.History; h != nil {
		b.WriteString("## History\n\n")
		fmt.Fprintf(&b, "%s.\n\n", mdText(h.Info))
		for _, w := range h.Worse {
			fmt.Fprintf(&b, "- **WORSE** %s\n", mdText(w))
		}
		if len(h.Worse) > 0 {
			b.WriteString("\n")
		}
		mdTable(&b, historyHeader, h.Rows)
	}
	if u := v.Upgrade; u != nil {
		b.WriteString("## Upgrade\n\n")
		fmt.Fprintf(&b, "**%s**: %s.\n\n", u.Verdict, mdText(u.Summary))
		if u.Traffic != "" {
			fmt.Fprintf(&b, "Load: %s.\n\n", mdText(u.Traffic))
		}
		mdTable(&b, upgradeHeader, u.Nodes)
		if len(u.Windows) > 0 {
			b.WriteString("Windows with failed requests (seconds since the load started; the longest first):\n\n")
			mdTable(&b, windowHeader, u.Windows)
		}
	}
	if u := v.MeshUpgrade; u != nil {
		b.WriteString("## Istio upgrade\n\n")
		fmt.Fprintf(&b, "**%s**: %s.\n\n", u.Verdict, mdText(u.Summary))
		mdTable(&b, meshUpgradeHeader, u.Namespaces)
	}
	if c := v.Conformance; c != nil {
		b.WriteString("## Conformance\n\n")
		fmt.Fprintf(&b, "**%s**: %s.\n\n", c.Verdict, mdText(c.Summary))
		if len(c.Failed) > 0 {
			b.WriteString("Failed:\n\n")
			mdTable(&b, conformanceHeader, c.Failed)
		}
		if len(c.Skipped) > 0 {
			b.WriteString("Skipped, with the reason:\n\n")
			mdTable(&b, conformanceHeader, c.Skipped)
		}
	}
	if len(v.Notes) > 0 {
		b.WriteString("## Notes\n\n")
		for _, n := range v.Notes {
			fmt.Fprintf(&b, "- %s\n", mdText(n))
		}
		b.WriteString("\n")
	}
	return append(bytes.TrimRight(b.Bytes(), "\n"), '\n')
}

// mdTable writes a GitHub-flavoured table, escaping each cell.
func mdTable(b *bytes.Buffer, header []string, rows [][]string) {
	b.WriteString("|")
	for _, h := range header {
		b.WriteString(" " + mdCell(h) + " |")
	}
	b.WriteString("\n|")
	for range header {
		b.WriteString("---|")
	}
	b.WriteString("\n")
	for _, r := range rows {
		b.WriteString("|")
		for _, c := range r {
			b.WriteString(" " + mdCell(c) + " |")
		}
		b.WriteString("\n")
	}
	b.WriteString("\n")
}

// mdCell keeps a cell on one line and its pipes from splitting the row.
func mdCell(s string) string {
	return strings.ReplaceAll(mdText(s), "|", `\|`)
}

// tagStart matches a "<" that could open an HTML tag, comment or autolink;
// "< 10 ms" cannot, and stays readable in a terminal.
var tagStart = regexp.MustCompile(`<([A-Za-z/!?])`)

// mdText flattens newlines and neutralises HTML so measured text (device
// models, error messages) cannot inject markup where Markdown is rendered.
func mdText(s string) string {
	s = strings.NewReplacer("\r\n", " ", "\n", " ", "\r", " ").Replace(s)
	return strings.TrimSpace(tagStart.ReplaceAllString(s, "&lt;$1"))
}
