// Package script renders the shell scripts meshready runs on nodes from
// text/template files, with q to quote a value as one shell word. Scripts are
// rendered by pure functions so golden files show exactly what runs.
package script

import (
	"bytes"
	"fmt"
	"io/fs"
	"text/template"

	"github.com/meshready/meshready/remote"
)

// Render executes the template called name, parsed (with its siblings, so
// {{template}} works across files) from the files in fsys matching pattern.
func Render(fsys fs.FS, pattern, name string, data any) (string, error) {
	t, err := template.New(name).Funcs(template.FuncMap{"q": remote.Quote}).ParseFS(fsys, pattern)
	if err != nil {
		return "", err
	}
	var b bytes.Buffer
	if err := t.ExecuteTemplate(&b, name, data); err != nil {
		return "", fmt.Errorf("render %s: %w", name, err)
	}
	return b.String(), nil
}
