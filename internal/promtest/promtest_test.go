package promtest

import (
	"errors"
	"fmt"
	"net/http"
	"os"
	"regexp"
	"strings"
	"testing"
)

func TestVersionsMatchGoMod(t *testing.T) {
	data, err := os.ReadFile("../../hack/promtest/go.mod")
	if err != nil {
		t.Fatal(err)
	}
	for mod, want := range map[string]string{
		"github.com/prometheus/prometheus":   PrometheusVersion,
		"github.com/prometheus/alertmanager": AlertmanagerVersion,
	} {
		m := regexp.MustCompile(`(?m)^\s*` + regexp.QuoteMeta(mod) + ` (v\S+)`).FindSubmatch(data)
		if m == nil {
			t.Errorf("%s not required in hack/promtest/go.mod", mod)
			continue
		}
		if got := string(m[1]); got != want {
			t.Errorf("hack/promtest/go.mod has %s %s, the constant says %s: update both", mod, got, want)
		}
	}
	script, err := os.ReadFile("../../hack/promtest/build.sh")
	if err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf("\nrecipe=%d\n", recipe); !strings.Contains(string(script), want) {
		t.Errorf("hack/promtest/build.sh does not set %q: the cache keys differ", strings.TrimSpace(want))
	}
}

func TestCheckLoopback(t *testing.T) {
	tests := []struct {
		addrs       []string
		ok          bool
		notLoopback bool // the error is errNotLoopback (not a syntax error)
	}{
		{addrs: []string{"127.0.0.1:9090", "[::1]:9093", "127.3.2.1:1"}, ok: true},
		{addrs: []string{"127.0.0.1:9090", "10.0.0.1:9090"}, notLoopback: true},
		{addrs: []string{"localhost:9090"}, notLoopback: true}, // names resolve elsewhere; addresses only
		{addrs: []string{"127.0.0.1"}},
	}
	for _, tt := range tests {
		err := CheckLoopback(tt.addrs...)
		if (err == nil) != tt.ok {
			t.Errorf("CheckLoopback(%v) = %v, want ok=%v", tt.addrs, err, tt.ok)
		}
		if tt.notLoopback && !errors.Is(err, errNotLoopback) {
			t.Errorf("CheckLoopback(%v) = %v, want errNotLoopback", tt.addrs, err)
		}
	}
}

// TestServersStart starts both servers, Prometheus sending alerts to
// Alertmanager, and checks an alerting rule's alert arrives.
func TestServersStart(t *testing.T) {
	am := StartAlertmanager(t)
	prom := StartPrometheus(t, PrometheusOptions{
		Rules:         "groups:\n- name: t\n  rules:\n  - alert: PromtestAlways\n    expr: vector(1)\n    for: 0s\n",
		Alertmanagers: []string{am.Addr},
	})
	for _, u := range []string{prom.URL + "/-/ready", am.URL + "/-/ready"} {
		resp, err := http.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("%s: %s", u, resp.Status)
		}
	}
	Eventually(t, StartTimeout, "the alert reaches Alertmanager", func() (bool, string) {
		resp, err := http.Get(am.URL + "/api/v2/alerts?filter=alertname%3D%22PromtestAlways%22")
		if err != nil {
			return false, err.Error()
		}
		defer resp.Body.Close()
		var buf [4096]byte
		n, _ := resp.Body.Read(buf[:])
		body := string(buf[:n])
		return regexp.MustCompile(`"alertname":"PromtestAlways"`).MatchString(body), body
	})
}
