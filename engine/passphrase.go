package engine

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// ensurePassphrase returns the passphrase file at path, making it first if
// needed: 32 random bytes in hex, written to a temp file, synced, and
// linked into place (never over a file another meshready made meanwhile),
// so a crash never leaves an empty or half-written passphrase behind.
func ensurePassphrase(path string) (string, error) {
	if _, err := os.Stat(path); err == nil {
		return path, checkPassphraseFile(path)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return "", err
	}
	buf := make([]byte, 32)
	if _, err := rand.Read(buf); err != nil {
		return "", err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".passphrase-*")
	if err != nil {
		return "", fmt.Errorf("passphrase file: %w", err)
	}
	defer os.Remove(tmp.Name())
	_, err = tmp.WriteString(hex.EncodeToString(buf) + "\n")
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return "", fmt.Errorf("passphrase file: %w", err)
	}
	if err := os.Link(tmp.Name(), path); err != nil && !errors.Is(err, os.ErrExist) {
		return "", fmt.Errorf("passphrase file: %w", err)
	}
	return path, checkPassphraseFile(path)
}

// MinPassphrase is the fewest characters a passphrase file may hold.
const MinPassphrase = 16

// checkPassphraseFile refuses a passphrase file that is empty or short: an
// empty passphrase would encrypt every secret of the stack with nothing.
func checkPassphraseFile(path string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("passphrase file: %w", err)
	}
	if n := len(strings.TrimSpace(string(b))); n < MinPassphrase {
		return fmt.Errorf("passphrase file %s holds %d characters, want at least %d: an empty or short passphrase does not protect the stack's secrets (restore it from where you keep it, or remove it only if no stack uses it yet)", path, n, MinPassphrase)
	}
	return nil
}
