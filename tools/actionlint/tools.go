//go:build tools

// Package tools pins actionlint, the GitHub Actions workflow linter the tests
// run on .github/workflows (built into the tool cache like the Pulumi CLI).
package tools

import _ "github.com/rhysd/actionlint/cmd/actionlint"
