package probes

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// testZone is what the test DNS server knows, in zone-file syntax.
const testZone = `
gravl.test.      60 IN A     203.0.113.10
gravl.test.      60 IN A     203.0.113.11
gravl.test.      60 IN AAAA  2001:db8::10
gravl.test.      60 IN TXT   "v=spf1 -all"
gravl.test.      60 IN TXT   "google-site-verification=" "abc123"
gravl.test.      60 IN CAA   0 issue "letsencrypt.org"
www.gravl.test.  60 IN CNAME gravl.test.
api.gravl.test.  60 IN A     203.0.113.20
`

// dnsServer is a miekg/dns server on 127.0.0.1, UDP and TCP on one port.
type dnsServer struct {
	addr       string
	tcpQueries atomic.Int64
	released   chan struct{} // closed at cleanup: frees handlers that hang
}

// serveDNS starts the test DNS server and stops it with the test.
func serveDNS(t *testing.T) *dnsServer {
	t.Helper()
	records := map[string][]dns.RR{} // "name type" → records
	zp := dns.NewZoneParser(strings.NewReader(testZone), "", "")
	for rr, ok := zp.Next(); ok; rr, ok = zp.Next() {
		k := rr.Header().Name + " " + dns.TypeToString[rr.Header().Rrtype]
		records[k] = append(records[k], rr)
	}
	if err := zp.Err(); err != nil {
		t.Fatal(err)
	}
	s := &dnsServer{released: make(chan struct{})}

	handler := dns.HandlerFunc(func(w dns.ResponseWriter, req *dns.Msg) {
		q := req.Question[0]
		q.Name = strings.ToLower(q.Name) // names are case-insensitive (RFC 4343)
		m := new(dns.Msg)
		m.SetReply(req)
		m.Authoritative = true
		tcp := w.LocalAddr().Network() == "tcp"
		if tcp {
			s.tcpQueries.Add(1)
		}
		switch q.Name {
		case "slow.gravl.test.":
			<-s.released // never answers while the test runs
			return
		case "broken.gravl.test.":
			m.Rcode = dns.RcodeServerFailure
		case "big.gravl.test.":
			for i := range 60 {
				m.Answer = append(m.Answer, &dns.TXT{Hdr: dns.RR_Header{Name: q.Name, Rrtype: dns.TypeTXT, Class: dns.ClassINET, Ttl: 60},
					Txt: []string{fmt.Sprintf("record-%02d-%s", i, strings.Repeat("x", 40))}})
			}
		default:
			if cname, ok := records[q.Name+" CNAME"]; ok && q.Qtype != dns.TypeCNAME {
				m.Answer = append(m.Answer, cname...)
				m.Answer = append(m.Answer, records[cname[0].(*dns.CNAME).Target+" "+dns.TypeToString[q.Qtype]]...)
				break
			}
			m.Answer = append(m.Answer, records[q.Name+" "+dns.TypeToString[q.Qtype]]...)
			if len(m.Answer) == 0 && !knownName(records, q.Name) {
				m.Rcode = dns.RcodeNameError
			}
		}
		size := dns.MaxMsgSize
		if !tcp {
			size = dns.MinMsgSize
			if opt := req.IsEdns0(); opt != nil {
				size = int(opt.UDPSize())
			}
		}
		m.Truncate(size)
		_ = w.WriteMsg(m)
	})

	var (
		pc net.PacketConn
		l  net.Listener
	)
	for range 20 { // a free port for both UDP and TCP; bounded
		var err error
		if pc, err = net.ListenPacket("udp", "127.0.0.1:0"); err != nil {
			t.Fatal(err)
		}
		if l, err = net.Listen("tcp", pc.LocalAddr().String()); err == nil {
			break
		}
		pc.Close()
		pc = nil
	}
	if pc == nil {
		t.Fatal("no loopback port free for both UDP and TCP")
	}
	s.addr = pc.LocalAddr().String()
	for _, srv := range []*dns.Server{{PacketConn: pc, Handler: handler}, {Listener: l, Handler: handler}} {
		started := make(chan struct{})
		srv.NotifyStartedFunc = func() { close(started) }
		errc := make(chan error, 1)
		go func() { errc <- srv.ActivateAndServe() }()
		select {
		case <-started:
		case err := <-errc:
			t.Fatalf("dns server: %v", err)
		case <-time.After(5 * time.Second):
			t.Fatal("dns server did not start within 5s")
		}
		t.Cleanup(func() { _ = srv.Shutdown() })
	}
	// Cleanups run last-in first-out: release the slow handler before the
	// servers' Shutdown waits for it.
	t.Cleanup(func() { close(s.released) })
	return s
}

func knownName(records map[string][]dns.RR, name string) bool {
	for k := range records {
		if strings.HasPrefix(k, name+" ") {
			return true
		}
	}
	return false
}

func TestDNSProbe(t *testing.T) {
	srv := serveDNS(t)
	tests := []struct {
		name        string
		spec        DNSSpec
		wantStatus  Status
		wantMsg     string
		wantSummary string
		wantValues  map[string]float64
		wantItems   map[string]string // item name → summary substring
		wantTCP     bool              // answered over TCP
	}{
		{name: "A exact", spec: DNSSpec{Name: "gravl.test", Expect: []string{"203.0.113.11", "203.0.113.10"}}, wantStatus: StatusPass,
			wantSummary: "gravl.test A: NOERROR, 2 record(s) in 2ms from " + srv.addr,
			wantValues:  map[string]float64{"rcode": 0, "answers": 2, "missing": 0, "unexpected": 0, "latency_ms": 2}},
		{name: "A exact, one missing one extra", spec: DNSSpec{Name: "gravl.test", Type: "a", Expect: []string{"203.0.113.10", "203.0.113.12"}}, wantStatus: StatusFail,
			wantMsg: "1 expected record(s) missing", wantSummary: "1 missing, 1 unexpected",
			wantValues: map[string]float64{"missing": 1, "unexpected": 1},
			wantItems:  map[string]string{"203.0.113.12": "missing", "203.0.113.11": "present, not expected", "203.0.113.10": "present, expected"}},
		{name: "A exact, one extra", spec: DNSSpec{Name: "gravl.test", Expect: []string{"203.0.113.10"}}, wantStatus: StatusFail,
			wantMsg: "1 unexpected record(s)"},
		{name: "A contains", spec: DNSSpec{Name: "gravl.test", Expect: []string{"203.0.113.10"}, Match: "contains"}, wantStatus: StatusPass,
			wantValues: map[string]float64{"unexpected": 1}},
		{name: "AAAA normalised", spec: DNSSpec{Name: "GRAVL.test.", Type: "AAAA", Expect: []string{"2001:0db8:0::10"}}, wantStatus: StatusPass},
		{name: "CNAME", spec: DNSSpec{Name: "www.gravl.test", Type: "CNAME", Expect: []string{"Gravl.Test"}}, wantStatus: StatusPass,
			wantItems: map[string]string{"gravl.test.": "present, expected"}},
		{name: "A through a CNAME", spec: DNSSpec{Name: "www.gravl.test", Expect: []string{"203.0.113.10", "203.0.113.11"}}, wantStatus: StatusPass,
			wantItems: map[string]string{"CNAME": "www.gravl.test. 60 IN CNAME gravl.test."}},
		{name: "TXT contains, strings joined", spec: DNSSpec{Name: "gravl.test", Type: "TXT", Expect: []string{"google-site-verification=abc123"}, Match: "contains"}, wantStatus: StatusPass},
		{name: "TXT exact misses one", spec: DNSSpec{Name: "gravl.test", Type: "TXT", Expect: []string{"v=spf1 -all"}}, wantStatus: StatusFail},
		{name: "CAA without flag", spec: DNSSpec{Name: "gravl.test", Type: "CAA", Expect: []string{"issue letsencrypt.org"}}, wantStatus: StatusPass},
		{name: "CAA quoted, wrong CA", spec: DNSSpec{Name: "gravl.test", Type: "CAA", Expect: []string{`0 issue "other-ca.example"`}}, wantStatus: StatusFail,
			wantItems: map[string]string{"0 issue other-ca.example": "missing"}},
		{name: "NXDOMAIN expected", spec: DNSSpec{Name: "gone.gravl.test", Rcode: "NXDOMAIN"}, wantStatus: StatusPass,
			wantValues: map[string]float64{"rcode": 3, "answers": 0}},
		{name: "NXDOMAIN unexpected", spec: DNSSpec{Name: "gone.gravl.test"}, wantStatus: StatusFail,
			wantMsg: "response code is not NOERROR", wantSummary: "NXDOMAIN"},
		{name: "no record of the type", spec: DNSSpec{Name: "api.gravl.test", Type: "AAAA"}, wantStatus: StatusFail, wantMsg: "no AAAA record"},
		{name: "any record will do", spec: DNSSpec{Name: "api.gravl.test"}, wantStatus: StatusPass},
		{name: "SERVFAIL", spec: DNSSpec{Name: "broken.gravl.test"}, wantStatus: StatusFail, wantSummary: "SERVFAIL", wantValues: map[string]float64{"rcode": 2}},
		{name: "over TCP", spec: DNSSpec{Name: "gravl.test", Net: "tcp", Expect: []string{"203.0.113.10", "203.0.113.11"}}, wantStatus: StatusPass, wantTCP: true},
		{name: "truncated UDP retried over TCP", spec: DNSSpec{Name: "big.gravl.test", Type: "TXT"}, wantStatus: StatusPass,
			wantValues: map[string]float64{"answers": 60}, wantTCP: true},
		{name: "custom outcomes", spec: DNSSpec{Name: "gravl.test", Outcomes: []OutcomeSpec{
			{Warn: &RuleSpec{When: "latency_ms > 1", Message: "slow resolver: {{latency_ms}}ms"}}, {Pass: &RuleSpec{}}}},
			wantStatus: StatusWarn, wantMsg: "slow resolver: 2ms"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.spec.Server = srv.addr
			if err := tt.spec.Validate(); err != nil {
				t.Fatalf("Validate: %v", err)
			}
			p, rules, err := tt.spec.Build(Env{Now: steppingClock(2 * time.Millisecond)})
			if err != nil {
				t.Fatalf("Build: %v", err)
			}
			tcpBefore := srv.tcpQueries.Load()
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
					t.Errorf("item %q = %q, want %q; items %+v", name, byName[name].Summary, sub, res.Items)
				}
			}
			if gotTCP := srv.tcpQueries.Load() > tcpBefore; gotTCP != tt.wantTCP {
				t.Errorf("answered over TCP = %v, want %v", gotTCP, tt.wantTCP)
			}
		})
	}
}

func TestDNSProbeResolvers(t *testing.T) {
	srv := serveDNS(t)
	// A UDP port nothing listens on: the query is refused (ICMP) at once.
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := pc.LocalAddr().String()
	pc.Close()

	tests := []struct {
		name       string
		resolvers  []string
		qname      string
		timeout    time.Duration
		wantStatus Status
		wantMsg    string
	}{
		{name: "the next resolver answers", resolvers: []string{dead, srv.addr}, qname: "gravl.test", wantStatus: StatusPass, wantMsg: "from " + srv.addr},
		{name: "every resolver fails", resolvers: []string{dead}, qname: "gravl.test", wantStatus: StatusError, wantMsg: "query gravl.test A: " + dead},
		{name: "timeout", resolvers: []string{srv.addr}, qname: "slow.gravl.test", timeout: 100 * time.Millisecond, wantStatus: StatusError, wantMsg: "timeout after 100ms"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec := DNSSpec{Name: tt.qname, Timeout: Duration(tt.timeout)}
			p, rules, err := spec.Build(Env{})
			if err != nil {
				t.Fatal(err)
			}
			// The system-resolver mode, with the list injected: the file
			// parsing is tested on its own below.
			p.(*dnsProbe).resolvers = func() ([]string, error) { return tt.resolvers, nil }
			res := Run(context.Background(), p, rules, time.Now)
			got := res.Summary + " | " + res.Message
			if res.Status != tt.wantStatus || !strings.Contains(got, tt.wantMsg) {
				t.Errorf("= %s %q, want %s containing %q", res.Status, got, tt.wantStatus, tt.wantMsg)
			}
		})
	}
}

func TestSystemResolvers(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	tests := []struct {
		name    string
		path    string
		want    []string
		wantErr string
	}{
		{name: "two nameservers", path: write("a.conf", "# comment\nsearch gravl.test\nnameserver 127.0.0.53\nnameserver ::1\noptions ndots:1\n"),
			want: []string{"127.0.0.53:53", "[::1]:53"}},
		{name: "none", path: write("b.conf", "search gravl.test\n"), wantErr: "no nameserver"},
		{name: "missing file", path: filepath.Join(dir, "nope.conf"), wantErr: "system resolvers"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := systemResolvers(tt.path)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || strings.Join(got, ",") != strings.Join(tt.want, ",") {
				t.Errorf("= %v, %v; want %v", got, err, tt.want)
			}
		})
	}
}

func TestDNSSpecValidate(t *testing.T) {
	tests := []struct {
		name    string
		spec    DNSSpec
		wantErr []string
	}{
		{name: "no name", spec: DNSSpec{}, wantErr: []string{"name: required"}},
		{name: "bad type", spec: DNSSpec{Name: "gravl.app", Type: "MX"}, wantErr: []string{`type: want one of A, AAAA, CNAME, TXT, CAA, got "MX"`}},
		{name: "bad server port", spec: DNSSpec{Name: "gravl.app", Server: "127.0.0.1:99999"}, wantErr: []string{"server:", "bad port"}},
		{name: "bad net", spec: DNSSpec{Name: "gravl.app", Net: "quic"}, wantErr: []string{"net: want udp or tcp"}},
		{name: "IPv6 for A", spec: DNSSpec{Name: "gravl.app", Expect: []string{"::1"}}, wantErr: []string{"expect[0]:", "not an IPv4 address"}},
		{name: "IPv4 for AAAA", spec: DNSSpec{Name: "gravl.app", Type: "AAAA", Expect: []string{"192.0.2.1"}}, wantErr: []string{"expect[0]:", "not an IPv6 address"}},
		{name: "not an IP", spec: DNSSpec{Name: "gravl.app", Expect: []string{"1.2.3.4", "gravl"}}, wantErr: []string{`expect[1]: "gravl" is not an IP address`}},
		{name: "duplicate", spec: DNSSpec{Name: "gravl.app", Type: "AAAA", Expect: []string{"2001:db8::1", "2001:DB8:0::1"}}, wantErr: []string{"expect[1]: same record as expect[0]"}},
		{name: "bad CAA", spec: DNSSpec{Name: "gravl.app", Type: "CAA", Expect: []string{"letsencrypt.org"}}, wantErr: []string{"expect[0]:", "want [FLAG] TAG VALUE"}},
		{name: "match alone", spec: DNSSpec{Name: "gravl.app", Match: "contains"}, wantErr: []string{"match: match without expect"}},
		{name: "bad match", spec: DNSSpec{Name: "gravl.app", Match: "subset", Expect: []string{"192.0.2.1"}}, wantErr: []string{"match: want exact or contains"}},
		{name: "bad rcode", spec: DNSSpec{Name: "gravl.app", Rcode: "NOPE"}, wantErr: []string{`rcode: unknown response code "NOPE"`}},
		{name: "unknown value", spec: DNSSpec{Name: "gravl.app", Outcomes: []OutcomeSpec{{Fail: &RuleSpec{When: "ttl < 60"}}}}, wantErr: []string{`unknown value "ttl"`}},
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
	for _, ok := range []DNSSpec{
		{Name: "gravl.app", Server: "127.0.0.1"},
		{Name: "gravl.app", Server: "[::1]:5353", Type: "txt", Expect: []string{"v=spf1 -all"}, Match: "contains"},
		{Name: "gravl.app", Server: "::1", Rcode: "nxdomain"},
	} {
		if err := ok.Validate(); err != nil {
			t.Errorf("Validate(%+v) = %v, want nil", ok, err)
		}
	}
}
