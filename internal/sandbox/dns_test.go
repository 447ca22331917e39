package sandbox

import (
	"errors"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// query asks the sandbox DNS server one question over network ("udp" or
// "tcp") with a real client.
func query(t *testing.T, network, addr, name string, qtype uint16) *dns.Msg {
	t.Helper()
	c := &dns.Client{Net: network, Timeout: 10 * time.Second}
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(name), qtype)
	r, _, err := c.ExchangeContext(t.Context(), m, addr)
	if err != nil {
		t.Fatalf("%s %s %s: %v", network, name, dns.TypeToString[qtype], err)
	}
	return r
}

// answers renders the answer section as "name TYPE data" lines.
func answers(rrs []dns.RR) []string {
	var out []string
	for _, rr := range rrs {
		h := rr.Header()
		out = append(out, h.Name+" "+dns.TypeToString[h.Rrtype]+" "+strings.TrimPrefix(rr.String(), h.String()))
	}
	return out
}

func TestDNSAnswers(t *testing.T) {
	s := startSandbox(t, Options{})
	tests := []struct {
		name    string
		qtype   uint16
		rcode   int
		aa      bool
		answer  []string
		soaInNs bool
	}{
		{name: "gravl.app", qtype: dns.TypeA, aa: true, answer: []string{"gravl.app. A 127.0.0.1"}},
		{name: "staging.gravl.app", qtype: dns.TypeA, aa: true, answer: []string{"staging.gravl.app. A 127.0.0.1"}},
		{name: "api.gravl.app", qtype: dns.TypeA, aa: true, answer: []string{"api.gravl.app. A 127.0.0.1"}},
		{name: "API.Gravl.App", qtype: dns.TypeA, aa: true, answer: []string{"api.gravl.app. A 127.0.0.1"}},
		{name: "www.gravl.app", qtype: dns.TypeCNAME, aa: true, answer: []string{"www.gravl.app. CNAME gravl.app."}},
		{
			name: "www.gravl.app", qtype: dns.TypeA, aa: true,
			answer: []string{"www.gravl.app. CNAME gravl.app.", "gravl.app. A 127.0.0.1"},
		},
		{name: "gravl.app", qtype: dns.TypeTXT, aa: true, answer: []string{`gravl.app. TXT "v=spf1 -all"`}},
		{name: "gravl.app", qtype: dns.TypeCAA, aa: true, answer: []string{`gravl.app. CAA 0 issue "letsencrypt.org"`}},
		{name: "gravl.app", qtype: dns.TypeNS, aa: true, answer: []string{"gravl.app. NS ns1.gravl.app."}},
		{name: "api.gravl.app", qtype: dns.TypeAAAA, aa: true, soaInNs: true},                                 // NODATA
		{name: "nope.gravl.app", qtype: dns.TypeA, rcode: dns.RcodeNameError, aa: true, soaInNs: true},        // NXDOMAIN
		{name: "a.b.staging.gravl.app", qtype: dns.TypeA, rcode: dns.RcodeNameError, aa: true, soaInNs: true}, // below a name
		{name: "example.com", qtype: dns.TypeA, rcode: dns.RcodeRefused},
		{name: "gravl.app.evil.com", qtype: dns.TypeA, rcode: dns.RcodeRefused},
		{name: "app", qtype: dns.TypeA, rcode: dns.RcodeRefused},
	}
	for _, network := range []string{"udp", "tcp"} {
		for _, tt := range tests {
			t.Run(network+"/"+tt.name+"/"+dns.TypeToString[tt.qtype], func(t *testing.T) {
				r := query(t, network, s.DNSAddr, tt.name, tt.qtype)
				if r.Rcode != tt.rcode {
					t.Errorf("rcode %s, want %s", dns.RcodeToString[r.Rcode], dns.RcodeToString[tt.rcode])
				}
				if r.Authoritative != tt.aa {
					t.Errorf("AA %v, want %v", r.Authoritative, tt.aa)
				}
				if got := answers(r.Answer); !slices.Equal(got, tt.answer) {
					t.Errorf("answer %q, want %q", got, tt.answer)
				}
				hasSOA := len(r.Ns) == 1 && r.Ns[0].Header().Rrtype == dns.TypeSOA
				if hasSOA != tt.soaInNs {
					t.Errorf("authority %v, want SOA: %v", r.Ns, tt.soaInNs)
				}
			})
		}
	}
}

func TestDNSRecordsChangeAtRunTime(t *testing.T) {
	s := startSandbox(t, Options{})
	if err := s.Zone.Set(Record{Name: "api", Type: "A", Data: "10.9.9.9"}); err != nil {
		t.Fatal(err)
	}
	r := query(t, "udp", s.DNSAddr, "api.gravl.app", dns.TypeA)
	if got := answers(r.Answer); !slices.Equal(got, []string{"api.gravl.app. A 10.9.9.9"}) {
		t.Errorf("after Set: %q", got)
	}
	if err := s.Zone.Delete("api.gravl.app.", "A"); err != nil {
		t.Fatal(err)
	}
	r = query(t, "tcp", s.DNSAddr, "api.gravl.app", dns.TypeA)
	if r.Rcode != dns.RcodeNameError {
		t.Errorf("after Delete: rcode %s, want NXDOMAIN", dns.RcodeToString[r.Rcode])
	}
	if err := s.Zone.Set(
		Record{Name: "@", Type: "CAA", Data: `0 issue "pki.goog"`},
		Record{Name: "@", Type: "CAA", Data: `0 iodef "mailto:security@gravl.app"`},
	); err != nil {
		t.Fatal(err)
	}
	r = query(t, "udp", s.DNSAddr, "gravl.app", dns.TypeCAA)
	if len(r.Answer) != 2 {
		t.Errorf("CAA set after replace: %q", answers(r.Answer))
	}
}

func TestZoneRejectsInvalidRecords(t *testing.T) {
	tests := []struct {
		name string
		rec  Record
	}{
		{name: "outside zone", rec: Record{Name: "gravl.com.", Type: "A", Data: "127.0.0.1"}},
		{name: "unknown type", rec: Record{Name: "x", Type: "NOPE", Data: "1"}},
		{name: "bad address", rec: Record{Name: "x", Type: "A", Data: "not-an-ip"}},
		{name: "empty data", rec: Record{Name: "x", Type: "A"}},
		{name: "CNAME beside A", rec: Record{Name: "api", Type: "CNAME", Data: "gravl.app."}},
		{name: "A beside CNAME", rec: Record{Name: "www", Type: "A", Data: "127.0.0.1"}},
		{name: "bad name", rec: Record{Name: "a..b", Type: "A", Data: "127.0.0.1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			z, err := NewZone(ZoneOrigin, DefaultRecords()...)
			if err != nil {
				t.Fatal(err)
			}
			before := z.Records()
			if err := z.Set(tt.rec); !errors.Is(err, ErrInvalidRecord) {
				t.Fatalf("Set = %v, want ErrInvalidRecord", err)
			}
			if after := z.Records(); !slices.Equal(before, after) {
				t.Error("zone changed on invalid input")
			}
		})
	}
}

func TestZoneRecordsRoundTrip(t *testing.T) {
	z, err := NewZone(ZoneOrigin, DefaultRecords()...)
	if err != nil {
		t.Fatal(err)
	}
	recs := z.Records()
	if len(recs) != len(DefaultRecords()) {
		t.Fatalf("%d records, want %d", len(recs), len(DefaultRecords()))
	}
	again, err := NewZone(ZoneOrigin, recs...)
	if err != nil {
		t.Fatalf("records do not parse back: %v", err)
	}
	if !slices.Equal(again.Records(), recs) {
		t.Error("records changed on a round trip")
	}
}

func TestListenUDPAndTCPSharePort(t *testing.T) {
	pc, ln, err := listenUDPAndTCP(DefaultHost)
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	defer ln.Close()
	_, udpPort, _ := net.SplitHostPort(pc.LocalAddr().String())
	_, tcpPort, _ := net.SplitHostPort(ln.Addr().String())
	if udpPort == "" || udpPort != tcpPort {
		t.Errorf("UDP %s and TCP %s differ", pc.LocalAddr(), ln.Addr())
	}
}
