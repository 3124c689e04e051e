package admin

import (
	"io/fs"
	"net/http"
	"regexp"
	"strings"
	"testing"
)

var (
	blockComment = regexp.MustCompile(`(?s)/\*.*?\*/`)
	htmlComment  = regexp.MustCompile(`(?s)<!--.*?-->`)
	lineComment  = regexp.MustCompile(`(?m)(^|\s)//.*$`) // "//" after ':' (a URL) is kept
	assetRef     = regexp.MustCompile(`(?:src|href)="([^"#]+)"`)
)

// stripComments removes comments, so only code and markup are checked for
// external URLs.
func stripComments(s string) string {
	return lineComment.ReplaceAllString(blockComment.ReplaceAllString(htmlComment.ReplaceAllString(s, ""), ""), "")
}

func TestConsoleServesPageAndAssets(t *testing.T) {
	e := newEnv(t, 3, Options{})
	code, body, h := e.do(t, "GET", "/")
	if code != http.StatusOK || !strings.HasPrefix(h.Get("Content-Type"), "text/html") {
		t.Fatalf("GET / = %d %s", code, h.Get("Content-Type"))
	}
	page := string(body)
	for _, want := range []string{"Connectors", "Clients", "Topics", "Retained", `<canvas id="chart"`} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	refs := assetRef.FindAllStringSubmatch(page, -1)
	if len(refs) < 2 {
		t.Fatalf("page references %d assets", len(refs))
	}
	wantType := map[string]string{".js": "text/javascript", ".css": "text/css"}
	for _, r := range refs {
		ref := r[1]
		if !strings.HasPrefix(ref, "/assets/") {
			t.Errorf("asset %q is not served from /assets/", ref)
			continue
		}
		code, body, h := e.do(t, "GET", ref)
		if code != http.StatusOK || len(body) == 0 {
			t.Errorf("GET %s = %d (%d bytes)", ref, code, len(body))
		}
		ext := ref[strings.LastIndexByte(ref, '.'):]
		if ct := h.Get("Content-Type"); !strings.HasPrefix(ct, wantType[ext]) {
			t.Errorf("%s content type %q", ref, ct)
		}
	}
	if csp := h.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'self'") {
		t.Errorf("CSP %q does not confine fetches to this server", csp)
	}
	if code, _, _ := e.do(t, "GET", "/assets/missing.js"); code != http.StatusNotFound {
		t.Errorf("missing asset = %d", code)
	}
}

func TestConsoleHasNoExternalURLs(t *testing.T) {
	err := fs.WalkDir(assets, "assets", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := assets.ReadFile(path)
		if err != nil {
			return err
		}
		code := stripComments(string(b))
		for _, bad := range []string{"http://", "https://", `src="//`, `href="//`, "url(//", "@import"} {
			if strings.Contains(code, bad) {
				t.Errorf("%s contains %q outside comments", path, bad)
			}
		}
		if strings.HasSuffix(path, ".js") && strings.Contains(code, "innerHTML") {
			t.Errorf("%s uses innerHTML: broker strings must go in as text", path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestStripCommentsKeepsURLsInCode(t *testing.T) {
	src := "// see https://example.org\nfetch(\"https://cdn.example/x.js\") /* http://c */\n<!-- https://h -->"
	got := stripComments(src)
	if !strings.Contains(got, "https://cdn.example") || strings.Contains(got, "example.org") || strings.Contains(got, "http://c") || strings.Contains(got, "https://h") {
		t.Fatalf("stripComments = %q", got)
	}
}
