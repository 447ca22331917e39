package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// checkInBrowser is the HTML sign-off as a person sees it: the file must
// need nothing from elsewhere, and hack/htmlcheck.sh opens it in Debian's
// headless Chromium, screenshots it at 1280 px, prints it to PDF and fails
// on an empty result or any console output. Under make test (the chromium
// target installs the browser) a missing Chromium fails; elsewhere it
// skips that part.
func checkInBrowser(t *testing.T, html string) {
	t.Helper()
	page, err := os.ReadFile(html)
	if err != nil {
		t.Fatal(err)
	}
	if m := regexp.MustCompile(`(?i)<link|<img|<iframe|\bsrc=|\bhref=|url\(|@import|@font-face`).Find(page); m != nil {
		t.Errorf("%s fetches something: %q", html, m)
	}
	if _, err := exec.LookPath("chromium"); err != nil {
		if os.Getenv("COCKPIT_REQUIRE_CONTROLPLANE") == "1" {
			t.Fatal("chromium is not installed (make chromium installs it)")
		}
		t.Log("chromium is not installed: the page was not opened in a browser")
		return
	}
	out := t.TempDir()
	cmd := exec.Command(filepath.Join("..", "..", "hack", "htmlcheck.sh"), html, out)
	msg, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("hack/htmlcheck.sh: %v\n%s", err, msg)
	}
	for _, f := range []string{"report.png", "report.pdf"} {
		if fi, err := os.Stat(filepath.Join(out, f)); err != nil || fi.Size() == 0 {
			t.Errorf("%s: %v", f, err)
		}
	}
	if !strings.Contains(string(msg), "no console output") {
		t.Errorf("htmlcheck said: %s", msg)
	}
}

// cockpit run writes the HTML sign-off beside the Markdown one, and
// cockpit report renders the same page with -o html or --format html.
func TestReportHTML(t *testing.T) {
	noKubeconfig(t)
	t.Setenv("MINI_TOKEN", "tok-3f9a8b7c6d5e")
	srv := goLiveServer(t)
	rb := goLiveRunbook(t, srv.URL)
	if code, _, stderr := cockpit(t, "run", rb, "--operator", "ci", "--auto-confirm-manual", "--override", "issuer=not used by gravl"); code != exitWarned {
		t.Fatalf("run: exit %d\n%s", code, stderr)
	}
	dir := filepath.Dir(rb)
	journal := filepath.Join(dir, "golive.journal.jsonl")
	written, err := os.ReadFile(filepath.Join(dir, "golive.signoff.html"))
	if err != nil {
		t.Fatalf("cockpit run wrote no HTML sign-off: %v", err)
	}
	code, byO, _ := cockpit(t, "report", journal, "-o", "html")
	code2, byFormat, _ := cockpit(t, "report", journal, "--format", "html")
	if code != exitWarned || code2 != exitWarned || byO != byFormat || byO != string(written) {
		t.Fatalf("exit %d and %d; -o html, --format html and the run's file differ", code, code2)
	}
	for _, w := range []string{"<title>Go-live sign-off: ", ">GO WITH OVERRIDES<", "hash chain verified", `aria-label="Latency over time: baseline`} {
		if !strings.Contains(byO, w) {
			t.Errorf("the HTML report lacks %q", w)
		}
	}
	if strings.Contains(byO, "tok-3f9a8b7c6d5e") {
		t.Error("the token leaked into the HTML report")
	}
}
