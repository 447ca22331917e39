package probes

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// tlsNow is the probes' clock in TLS tests; certificates are dated around it.
var tlsNow = time.Date(2026, 3, 8, 6, 0, 0, 0, time.UTC)

// testCert is a generated certificate with its key.
type testCert struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
}

// certOpts shape a generated certificate.
type certOpts struct {
	cn        string
	dnsNames  []string
	ips       []net.IP
	notBefore time.Time
	notAfter  time.Time
	isCA      bool
}

var certSerial = big.NewInt(1000)

// newCert signs a certificate with parent (self-signed when parent is nil).
func newCert(t *testing.T, o certOpts, parent *testCert) *testCert {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	certSerial.Add(certSerial, big.NewInt(1))
	tmpl := &x509.Certificate{
		SerialNumber:          new(big.Int).Set(certSerial),
		Subject:               pkix.Name{CommonName: o.cn, Organization: []string{"Cockpit tests"}},
		DNSNames:              o.dnsNames,
		IPAddresses:           o.ips,
		NotBefore:             o.notBefore,
		NotAfter:              o.notAfter,
		BasicConstraintsValid: true,
		IsCA:                  o.isCA,
	}
	if o.isCA {
		tmpl.KeyUsage = x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature
	} else {
		tmpl.KeyUsage = x509.KeyUsageDigitalSignature
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	}
	signer, signerKey := tmpl, key
	if parent != nil {
		signer, signerKey = parent.cert, parent.key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, signer, &key.PublicKey, signerKey)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &testCert{cert: cert, key: key}
}

func newCA(t *testing.T, cn string) *testCert {
	return newCert(t, certOpts{cn: cn, isCA: true, notBefore: tlsNow.AddDate(-1, 0, 0), notAfter: tlsNow.AddDate(5, 0, 0)}, nil)
}

// writePEM writes certificates to a PEM file and returns its path.
func writePEM(t *testing.T, certs ...*testCert) string {
	t.Helper()
	var buf []byte
	for _, c := range certs {
		buf = append(buf, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.cert.Raw})...)
	}
	path := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(path, buf, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// serveTLS runs a TLS server on 127.0.0.1 presenting chain (leaf first) and
// returns its port. Each connection completes a handshake and is closed.
func serveTLS(t *testing.T, chain ...*testCert) int {
	t.Helper()
	tc := tls.Certificate{PrivateKey: chain[0].key, Leaf: chain[0].cert}
	for _, c := range chain {
		tc.Certificate = append(tc.Certificate, c.cert.Raw)
	}
	l := listenLoopback(t)
	tl := tls.NewListener(l, &tls.Config{Certificates: []tls.Certificate{tc}, MinVersion: tls.VersionTLS12})
	go func() {
		for {
			c, err := tl.Accept()
			if err != nil {
				return // the listener closed with the test
			}
			go func() {
				defer c.Close()
				_ = c.SetDeadline(time.Now().Add(5 * time.Second))
				_ = c.(*tls.Conn).Handshake() // a rejected certificate ends it with an alert
			}()
		}
	}()
	return l.Addr().(*net.TCPAddr).Port
}

func TestTLSProbe(t *testing.T) {
	ca := newCA(t, "Cockpit Test CA")
	other := newCA(t, "Someone Else CA")
	caFile := writePEM(t, ca)
	inter := newCert(t, certOpts{cn: "Cockpit Test Intermediate", isCA: true, notBefore: tlsNow.AddDate(0, -1, 0), notAfter: tlsNow.AddDate(2, 0, 0)}, ca)

	leaf := func(days int, names ...string) certOpts {
		return certOpts{cn: names[0], dnsNames: names, notBefore: tlsNow.AddDate(0, 0, -30), notAfter: tlsNow.AddDate(0, 0, days)}
	}
	valid := serveTLS(t, newCert(t, leaf(90, "gravl.test", "www.gravl.test"), ca))
	soon := serveTLS(t, newCert(t, leaf(10, "gravl.test"), ca))
	verySoon := serveTLS(t, newCert(t, leaf(3, "gravl.test"), ca))
	expired := serveTLS(t, newCert(t, leaf(-2, "gravl.test"), ca))
	wrongSAN := serveTLS(t, newCert(t, leaf(90, "other.test"), ca))
	unknownCA := serveTLS(t, newCert(t, leaf(90, "gravl.test"), other))
	viaIntermediate := serveTLS(t, newCert(t, leaf(90, "gravl.test"), inter), inter)
	byIP := serveTLS(t, newCert(t, certOpts{cn: "loopback", ips: []net.IP{net.IPv4(127, 0, 0, 1)}, notBefore: tlsNow.AddDate(0, 0, -1), notAfter: tlsNow.AddDate(0, 0, 60)}, ca))

	spec := func(port int) TLSSpec {
		return TLSSpec{Host: "127.0.0.1", Port: port, ServerName: "gravl.test", CACert: caFile}
	}
	intp := func(n int) *int { return &n }
	tests := []struct {
		name        string
		spec        TLSSpec
		wantStatus  Status
		wantMsg     string
		wantSummary string
		wantValues  map[string]float64
		wantItems   map[string]string // item name → summary substring
		wantReason  map[string]string // item name → reason
	}{
		{name: "valid", spec: spec(valid), wantStatus: StatusPass, wantMsg: "valid for 90 more days",
			wantSummary: "gravl.test: expires in 90 days, issued by CN=Cockpit Test CA,O=Cockpit tests",
			wantValues:  map[string]float64{"days_left": 90, "chain_ok": 1, "san_ok": 1},
			wantItems: map[string]string{"leaf": "CN=gravl.test,O=Cockpit tests issued by CN=Cockpit Test CA", "san": "gravl.test covered by [gravl.test, www.gravl.test]",
				"chain": "verifies against " + caFile, "expiry": "(90 days left)"}},
		{name: "warn below 21 days", spec: spec(soon), wantStatus: StatusWarn, wantMsg: "expires in 10 days (warn below 21)",
			wantValues: map[string]float64{"days_left": 10}},
		{name: "fail below 7 days", spec: spec(verySoon), wantStatus: StatusFail, wantMsg: "expires in 3 days (fail below 7)"},
		{name: "custom thresholds", spec: func() TLSSpec { s := spec(valid); s.WarnDays, s.FailDays = intp(120), intp(100); return s }(),
			wantStatus: StatusFail, wantMsg: "(fail below 100)"},
		{name: "only warnDays above the fail default", spec: func() TLSSpec { s := spec(soon); s.WarnDays = intp(5); return s }(),
			wantStatus: StatusPass},
		{name: "expired is observed, not a dial error", spec: spec(expired), wantStatus: StatusFail, wantMsg: "chain does not verify",
			wantSummary: "chain does not verify (Expired)",
			wantValues:  map[string]float64{"days_left": -2, "chain_ok": 0, "san_ok": 1},
			wantItems:   map[string]string{"expiry": "expired 2 days ago"},
			wantReason:  map[string]string{"chain": "Expired", "expiry": "Expired"}},
		{name: "wrong SAN", spec: spec(wrongSAN), wantStatus: StatusFail, wantMsg: "does not cover the server name",
			wantValues: map[string]float64{"chain_ok": 1, "san_ok": 0},
			wantItems:  map[string]string{"san": "gravl.test not covered by [other.test]"},
			wantReason: map[string]string{"san": "NameMismatch"}},
		{name: "unknown CA", spec: spec(unknownCA), wantStatus: StatusFail,
			wantValues: map[string]float64{"chain_ok": 0, "san_ok": 1},
			wantReason: map[string]string{"chain": "UnknownAuthority"}},
		{name: "system roots do not hold the test CA", spec: TLSSpec{Host: "127.0.0.1", Port: valid, ServerName: "gravl.test"}, wantStatus: StatusFail,
			wantItems:  map[string]string{"chain": "does not verify against system roots"},
			wantReason: map[string]string{"chain": "UnknownAuthority"}},
		{name: "chain through an intermediate", spec: spec(viaIntermediate), wantStatus: StatusPass,
			wantItems: map[string]string{"leaf": "issued by CN=Cockpit Test Intermediate"}},
		{name: "IP SAN with no server name", spec: TLSSpec{Host: "127.0.0.1", Port: byIP, CACert: caFile}, wantStatus: StatusPass,
			wantItems: map[string]string{"san": "127.0.0.1 covered by [127.0.0.1]"}},
		{name: "custom outcomes", spec: func() TLSSpec {
			s := spec(valid)
			s.Outcomes = []OutcomeSpec{{Warn: &RuleSpec{When: "days_left < 365", Message: "renew within the year"}}, {Pass: &RuleSpec{}}}
			return s
		}(), wantStatus: StatusWarn, wantMsg: "renew within the year"},
		{name: "no rule passes a wrong SAN", spec: func() TLSSpec {
			s := spec(wrongSAN)
			s.Outcomes = []OutcomeSpec{{Pass: &RuleSpec{}}}
			return s
		}(), wantStatus: StatusFail, wantMsg: "does not cover"},
		{name: "no rule passes an unknown CA", spec: func() TLSSpec {
			s := spec(unknownCA)
			s.Outcomes = []OutcomeSpec{{Pass: &RuleSpec{}}}
			return s
		}(), wantStatus: StatusFail, wantMsg: "chain does not verify"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.spec.Validate(); err != nil {
				t.Fatalf("Validate: %v", err)
			}
			p, rules, err := tt.spec.Build(Env{Now: func() time.Time { return tlsNow }})
			if err != nil {
				t.Fatalf("Build: %v", err)
			}
			res := Run(context.Background(), p, rules, time.Now)
			if res.Status != tt.wantStatus {
				t.Fatalf("status = %s (%s; %s), want %s; items %+v", res.Status, res.Message, res.Summary, tt.wantStatus, res.Items)
			}
			if !strings.Contains(res.Message, tt.wantMsg) || !strings.Contains(res.Summary, tt.wantSummary) {
				t.Errorf("message %q summary %q, want %q and %q", res.Message, res.Summary, tt.wantMsg, tt.wantSummary)
			}
			for k, v := range tt.wantValues {
				if got, ok := res.Values[k]; !ok || got != v {
					t.Errorf("value %s = %v (present %v), want %v", k, got, ok, v)
				}
			}
			byName := map[string]Item{}
			for _, it := range res.Items {
				byName[it.Name] = it
			}
			for name, sub := range tt.wantItems {
				if !strings.Contains(byName[name].Summary, sub) {
					t.Errorf("item %s = %q, want %q", name, byName[name].Summary, sub)
				}
			}
			for name, reason := range tt.wantReason {
				if byName[name].Reason != reason {
					t.Errorf("item %s reason = %q, want %q (%s)", name, byName[name].Reason, reason, byName[name].Message)
				}
			}
		})
	}
}

func TestTLSProbeErrors(t *testing.T) {
	// A TCP server that is not TLS: it answers the ClientHello with text.
	plain := listenLoopback(t)
	go func() {
		for {
			c, err := plain.Accept()
			if err != nil {
				return
			}
			_, _ = c.Write([]byte("SSH-2.0-OpenSSH_9.6\r\n"))
			c.Close()
		}
	}()
	// A server that accepts and never speaks: the handshake times out.
	silent := listenLoopback(t)
	done := make(chan struct{})
	t.Cleanup(func() { close(done) })
	go func() {
		for {
			c, err := silent.Accept()
			if err != nil {
				return
			}
			go func() { <-done; c.Close() }()
		}
	}()
	port := func(l net.Listener) int { return l.Addr().(*net.TCPAddr).Port }
	tests := []struct {
		name    string
		spec    TLSSpec
		wantMsg string
	}{
		{name: "refused", spec: TLSSpec{Host: "127.0.0.1", Port: closedPort(t)}, wantMsg: "connection refused"},
		{name: "not TLS", spec: TLSSpec{Host: "127.0.0.1", Port: port(plain)}, wantMsg: "TLS handshake with 127.0.0.1"},
		{name: "handshake timeout", spec: TLSSpec{Host: "127.0.0.1", Port: port(silent), Timeout: Duration(100 * time.Millisecond)}, wantMsg: "timeout after 100ms"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, rules, err := tt.spec.Build(Env{})
			if err != nil {
				t.Fatal(err)
			}
			res := Run(context.Background(), p, rules, time.Now)
			if res.Status != StatusError || !strings.Contains(res.Message, tt.wantMsg) {
				t.Errorf("= %s %q, want an error containing %q", res.Status, res.Message, tt.wantMsg)
			}
		})
	}
}

func TestTLSSpecValidate(t *testing.T) {
	n := func(v int) *int { return &v }
	tests := []struct {
		name    string
		spec    TLSSpec
		wantErr []string
	}{
		{name: "no host", spec: TLSSpec{}, wantErr: []string{"host: required"}},
		{name: "bad port", spec: TLSSpec{Host: "gravl.app", Port: -1}, wantErr: []string{"port: -1 is not a TCP port"}},
		{name: "negative days", spec: TLSSpec{Host: "gravl.app", WarnDays: n(-1)}, wantErr: []string{"warnDays: must not be negative"}},
		{name: "fail above warn", spec: TLSSpec{Host: "gravl.app", WarnDays: n(7), FailDays: n(21)}, wantErr: []string{"failDays: 21 is more than warnDays (7)"}},
		{name: "days and outcomes", spec: TLSSpec{Host: "gravl.app", FailDays: n(3), Outcomes: []OutcomeSpec{{Pass: &RuleSpec{}}}}, wantErr: []string{"failDays: failDays and outcomes exclude each other"}},
		{name: "bad server name", spec: TLSSpec{Host: "gravl.app", ServerName: "https://gravl.app"}, wantErr: []string{"serverName: want a DNS name"}},
		{name: "unknown value", spec: TLSSpec{Host: "gravl.app", Outcomes: []OutcomeSpec{{Fail: &RuleSpec{When: "expired == 1"}}}}, wantErr: []string{`outcomes[0].fail.when: unknown value "expired"`}},
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
	t.Run("missing caCert file", func(t *testing.T) {
		s := TLSSpec{Host: "gravl.app", CACert: filepath.Join(t.TempDir(), "nope.pem")}
		if _, _, err := s.Build(Env{}); err == nil || !strings.Contains(err.Error(), "caCert") {
			t.Errorf("Build = %v, want a caCert error", err)
		}
	})
}
