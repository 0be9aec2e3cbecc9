package config

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Auto is a knob that is either "auto" (meshready derives it from what it
// measured) or an explicit value. The zero value is auto.
type Auto[T any] struct {
	Value T
	Set   bool
}

// IsAuto reports whether the value is left to meshready.
func (a Auto[T]) IsAuto() bool { return !a.Set }

// Or returns the explicit value, or def when the knob is auto.
func (a Auto[T]) Or(def T) T {
	if a.Set {
		return a.Value
	}
	return def
}

// String renders "auto" or the value, as the stack file would.
func (a Auto[T]) String() string {
	if !a.Set {
		return "auto"
	}
	return fmt.Sprint(a.Value)
}

// MarshalJSON writes "auto" or the value, the way the stack file holds it.
func (a Auto[T]) MarshalJSON() ([]byte, error) {
	if !a.Set {
		return json.Marshal("auto")
	}
	return json.Marshal(a.Value)
}

// Duration is a time.Duration written as Go duration text ("30s", "150ms").
type Duration time.Duration

// D returns the duration as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// String renders the duration as the stack file would hold it.
func (d Duration) String() string { return time.Duration(d).String() }

// MarshalJSON writes the duration as text, so reports and outputs read like the config.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(d.String()) }

// ParseDuration reads a Go duration; a bare number is refused because its unit would be a guess.
func ParseDuration(s string) (Duration, error) {
	v, err := time.ParseDuration(strings.TrimSpace(s))
	if err != nil {
		return 0, fmt.Errorf("%q is not a duration (want e.g. \"30s\" or \"150ms\")", s)
	}
	if v < 0 {
		return 0, fmt.Errorf("%q is negative", s)
	}
	return Duration(v), nil
}

// Version is a Kubernetes version "MAJOR.MINOR.PATCH" (a leading v is accepted).
type Version string

// Parse splits the version into numbers.
func (v Version) Parse() (major, minor, patch int, err error) {
	s := strings.TrimPrefix(string(v), "v")
	parts := strings.Split(s, ".")
	if len(parts) != 3 {
		return 0, 0, 0, fmt.Errorf("%q is not MAJOR.MINOR.PATCH (e.g. \"1.34.4\")", string(v))
	}
	nums := make([]int, 3)
	for i, p := range parts {
		n, err := strconv.Atoi(p)
		// Atoi takes "+34" and "034": a version reaches package names and
		// URLs, so only plain digits, without leading zeros, are one.
		if err != nil || n < 0 || strconv.Itoa(n) != p {
			return 0, 0, 0, fmt.Errorf("%q is not MAJOR.MINOR.PATCH (e.g. \"1.34.4\")", string(v))
		}
		nums[i] = n
	}
	return nums[0], nums[1], nums[2], nil
}

// Tag is the version as Kubernetes tags it ("v1.34.4").
func (v Version) Tag() string { return "v" + strings.TrimPrefix(string(v), "v") }

// Secret is a string that never prints itself: fmt, logs and JSON see "[secret]".
type Secret string

// Reveal returns the secret for the one place that must send it (an API header).
func (s Secret) Reveal() string { return string(s) }

// String hides the value.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return "[secret]"
}

// GoString hides the value from %#v too.
func (s Secret) GoString() string { return s.String() }

// MarshalJSON hides the value from encoders.
func (s Secret) MarshalJSON() ([]byte, error) { return json.Marshal(s.String()) }
