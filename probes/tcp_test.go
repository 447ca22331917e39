package probes

import (
	"context"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"
)

// listenLoopback opens a TCP listener on 127.0.0.1 and closes it with the test.
func listenLoopback(t *testing.T) net.Listener {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// closedPort returns a loopback port nothing listens on.
func closedPort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	return port
}

func TestTCPProbe(t *testing.T) {
	open := listenLoopback(t)
	go func() { // accept and drop, until the listener closes
		for {
			c, err := open.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	openPort := open.Addr().(*net.TCPAddr).Port

	tests := []struct {
		name        string
		spec        TCPSpec
		wantStatus  Status
		wantSummary string
		wantMsg     string
		wantConnect float64
	}{
		{name: "open", spec: TCPSpec{Host: "127.0.0.1", Port: openPort}, wantStatus: StatusPass,
			wantSummary: "connected to 127.0.0.1:" + strconv.Itoa(openPort) + " in 3ms", wantMsg: "connected in 3ms", wantConnect: 3},
		{name: "localhost name", spec: TCPSpec{Host: "localhost", Port: openPort}, wantStatus: StatusPass},
		{name: "slow connect fails a custom rule", spec: TCPSpec{Host: "127.0.0.1", Port: openPort, Outcomes: []OutcomeSpec{
			{Fail: &RuleSpec{When: "connect_ms > 2", Message: "slow: {{connect_ms}}ms"}}, {Pass: &RuleSpec{}}}},
			wantStatus: StatusFail, wantMsg: "slow: 3ms"},
		{name: "refused", spec: TCPSpec{Host: "127.0.0.1", Port: closedPort(t)}, wantStatus: StatusError, wantMsg: "connection refused"},
		{name: "cancelled context", spec: TCPSpec{Host: "127.0.0.1", Port: openPort}, wantStatus: StatusError, wantMsg: "cancelled"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.spec.Validate(); err != nil {
				t.Fatalf("Validate: %v", err)
			}
			p, rules, err := tt.spec.Build(Env{Now: steppingClock(3 * time.Millisecond)})
			if err != nil {
				t.Fatalf("Build: %v", err)
			}
			ctx := context.Background()
			if strings.Contains(tt.name, "cancelled") {
				c, cancel := context.WithCancel(ctx)
				cancel()
				ctx = c
			}
			res := Run(ctx, p, rules, time.Now)
			if res.Status != tt.wantStatus {
				t.Fatalf("status = %s (%s), want %s", res.Status, res.Message, tt.wantStatus)
			}
			if !strings.Contains(res.Summary, tt.wantSummary) || !strings.Contains(res.Message, tt.wantMsg) {
				t.Errorf("summary %q message %q, want %q and %q", res.Summary, res.Message, tt.wantSummary, tt.wantMsg)
			}
			if tt.wantConnect != 0 && res.Values["connect_ms"] != tt.wantConnect {
				t.Errorf("connect_ms = %v, want %v", res.Values["connect_ms"], tt.wantConnect)
			}
		})
	}
}

func TestTCPSpecValidate(t *testing.T) {
	tests := []struct {
		name    string
		spec    TCPSpec
		wantErr []string
	}{
		{name: "empty", spec: TCPSpec{}, wantErr: []string{"host: required", "port: required"}},
		{name: "port range", spec: TCPSpec{Host: "db", Port: 70000}, wantErr: []string{"port: 70000 is not a TCP port"}},
		{name: "host with port", spec: TCPSpec{Host: "db:5432", Port: 5432}, wantErr: []string{"host:", "port field"}},
		{name: "url as host", spec: TCPSpec{Host: "tcp://db", Port: 1}, wantErr: []string{"want a host name or IP address"}},
		{name: "negative timeout", spec: TCPSpec{Host: "db", Port: 1, Timeout: Duration(-time.Second)}, wantErr: []string{"timeout: must not be negative"}},
		{name: "bad outcome", spec: TCPSpec{Host: "db", Port: 1, Outcomes: []OutcomeSpec{{Pass: &RuleSpec{When: "latency_ms < 3"}}}}, wantErr: []string{`unknown value "latency_ms"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.spec.Validate()
			if err == nil {
				t.Fatalf("no error, want %q", tt.wantErr)
			}
			for _, w := range tt.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
	for _, ok := range []TCPSpec{{Host: "::1", Port: 80}, {Host: "db.gravl.internal", Port: 5432}} {
		if err := ok.Validate(); err != nil {
			t.Errorf("Validate(%+v) = %v, want nil", ok, err)
		}
	}
}
