package benchmarks

import (
	"os"
	"testing"
)

// readTestdata reads a test input, failing the test when it is missing.
func readTestdata(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
