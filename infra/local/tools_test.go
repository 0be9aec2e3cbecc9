package local

import "testing"

func TestMirrorFromDeb822(t *testing.T) {
	for _, tc := range []struct{ name, text, want string }{
		{"main before security", `Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main

Types: deb
URIs: http://deb.debian.org/debian-security
Suites: bookworm-security
Components: main
`, "http://deb.debian.org/debian"},
		{"security only", "Types: deb\nURIs: http://security.debian.org/\nSuites: bookworm-security\n", ""},
		{"disabled", "Enabled: no\nTypes: deb\nURIs: http://a/debian\nSuites: bookworm\n", ""},
		{"source only", "Types: deb-src\nURIs: http://a/debian\nSuites: bookworm\n", ""},
		{"other release", "Types: deb\nURIs: http://a/debian\nSuites: trixie\n", ""},
		{"trailing slash, comment", "# mirror\nTypes: deb\nURIs: http://mirror.example/debian/\nSuites: bookworm\n", "http://mirror.example/debian"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := mirrorFromDeb822(tc.text, "bookworm"); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestMirrorFromList(t *testing.T) {
	for _, tc := range []struct{ name, text, want string }{
		{"plain", "deb http://deb.debian.org/debian bookworm main\n", "http://deb.debian.org/debian"},
		{"options", "deb [arch=amd64 signed-by=/k.gpg] http://m/debian/ bookworm main\n", "http://m/debian"},
		{"security first", "deb http://security.debian.org/debian-security bookworm-security main\ndeb http://m/debian bookworm main\n", "http://m/debian"},
		{"third party", "deb https://packages.cloud.google.com/apt cloud-sdk-bookworm main\n", ""},
		{"commented", "# deb http://m/debian bookworm main\n", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := mirrorFromList(tc.text, "bookworm"); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestRootNameFollowsContent(t *testing.T) {
	a := rootName("bookworm", []string{"systemd"}, []string{"step"})
	for _, b := range []string{
		rootName("bookworm", []string{"systemd", "fio"}, []string{"step"}),
		rootName("bookworm", []string{"systemd"}, []string{"step", "another"}),
		rootName("trixie", []string{"systemd"}, []string{"step"}),
	} {
		if a == b {
			t.Errorf("different content, same root name %s: a stale root would be reused", a)
		}
	}
	if a != rootName("bookworm", []string{"systemd"}, []string{"step"}) {
		t.Error("root name is not stable")
	}
}
