// Package version is meshready's own version, stamped at build time with
// -ldflags "-X github.com/meshready/meshready/version.Version=v1.2.3".
package version

// Version is "dev" in builds that were not stamped.
var Version = "0.1.0-dev"
