package config

import (
	"fmt"
	"path"
	"path/filepath"
	"regexp"
	"strings"
)

// The kinds of value that reach a shell, a path or a URL are checked here,
// for config keys and command-line flags alike: a value is refused unless it
// is plainly what it claims to be.
var (
	// stackName is a stack's (and an env's, and a report's) name: a file
	// name under stacks/ and .meshready/, so nothing that can climb out.
	stackName = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]{0,38}[a-z0-9])?$`)
	// nodePath is an absolute path on a node, of the characters paths are
	// made of, with nothing a shell would read as syntax.
	nodePath = regexp.MustCompile(`^/[A-Za-z0-9._/-]*$`)
)

// CheckStackName says why s cannot name a stack, a region or an env.
func CheckStackName(s string) error {
	if !stackName.MatchString(s) {
		return fmt.Errorf("%q must be 1-40 lower-case letters, digits and dashes", s)
	}
	return nil
}

// CheckNodePath says why s is not a clean absolute path on a node.
func CheckNodePath(s string) error {
	if !nodePath.MatchString(s) || path.Clean(s) != s {
		return fmt.Errorf("%q must be a clean absolute path (letters, digits, . _ - /; no .. or //)", s)
	}
	return nil
}

// CheckProjectFile says why s may not be a file meshready writes for the
// user: a relative path that stays inside the project, or one under
// ~/.kube/. A file anywhere else (~/.ssh/authorized_keys) is never replaced.
func CheckProjectFile(s string) error {
	if rest, ok := strings.CutPrefix(s, "~/.kube/"); ok && rest != "" && filepath.IsLocal(rest) {
		return nil
	}
	if s == "" || !filepath.IsLocal(s) {
		return fmt.Errorf("%q must be a path inside the project (relative, no ..) or under ~/.kube/", s)
	}
	return nil
}
