package sandbox

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/miekg/dns"
)

// ZoneOrigin is the zone the sandbox DNS server is authoritative for.
const ZoneOrigin = "gravl.app."

// defaultTTL applies to records given without a TTL.
const defaultTTL = 300

// maxCNAMEChain bounds CNAME chasing inside the zone.
const maxCNAMEChain = 8

// portAttempts bounds the search for a port free for both UDP and TCP.
const portAttempts = 32

// ErrInvalidRecord is returned for a record the zone cannot hold.
var ErrInvalidRecord = errors.New("invalid DNS record")

// Record is one resource record of a Zone in presentation form.
type Record struct {
	// Name is the owner, fully qualified ("www.gravl.app.") or relative to the
	// zone origin ("www", "@" for the apex).
	Name string
	// Type is the record type mnemonic: "A", "CNAME", "TXT", "CAA", …
	Type string
	// TTL in seconds; zero means 300.
	TTL uint32
	// Data is the record data in zone-file syntax: "127.0.0.1",
	// "gravl.app.", `"v=spf1 -all"` (TXT strings quoted),
	// `0 issue "letsencrypt.org"`.
	Data string
}

// DefaultRecords is the sandbox zone's initial content: the names the seed
// document's go-live touches, all pointing at the loopback sandbox.
func DefaultRecords() []Record {
	return []Record{
		{Name: "@", Type: "SOA", Data: "ns1.gravl.app. hostmaster.gravl.app. 2026030801 7200 3600 1209600 300"},
		{Name: "@", Type: "NS", Data: "ns1.gravl.app."},
		{Name: "ns1", Type: "A", Data: "127.0.0.1"},
		{Name: "@", Type: "A", Data: "127.0.0.1"},
		{Name: "staging", Type: "A", Data: "127.0.0.1"},
		{Name: "api", Type: "A", Data: "127.0.0.1"},
		{Name: "www", Type: "CNAME", Data: "gravl.app."},
		{Name: "@", Type: "TXT", Data: `"v=spf1 -all"`},
		{Name: "@", Type: "CAA", Data: `0 issue "letsencrypt.org"`},
	}
}

type rrKey struct {
	name  string
	rtype uint16
}

// Zone is a small authoritative zone whose records can be changed while it is
// served (so a demo can break a record). Safe for concurrent use.
type Zone struct {
	origin string
	mu     sync.RWMutex
	rrsets map[rrKey][]dns.RR
}

// NewZone returns a zone for origin holding records.
func NewZone(origin string, records ...Record) (*Zone, error) {
	origin = dns.CanonicalName(origin)
	if _, ok := dns.IsDomainName(origin); !ok {
		return nil, fmt.Errorf("zone origin %q: %w", origin, ErrInvalidRecord)
	}
	z := &Zone{origin: origin, rrsets: make(map[rrKey][]dns.RR)}
	if err := z.Set(records...); err != nil {
		return nil, err
	}
	return z, nil
}

// Origin returns the zone's fully qualified origin.
func (z *Zone) Origin() string { return z.origin }

// Set replaces, for each owner name and type present in records, that whole
// record set with the given records. It validates everything before
// changing anything; a CNAME may not share its name with other data.
func (z *Zone) Set(records ...Record) error {
	sets := make(map[rrKey][]dns.RR)
	var order []rrKey
	for _, rec := range records {
		rr, err := z.parse(rec)
		if err != nil {
			return err
		}
		k := rrKey{name: rr.Header().Name, rtype: rr.Header().Rrtype}
		if _, seen := sets[k]; !seen {
			order = append(order, k)
		}
		sets[k] = append(sets[k], rr)
	}
	z.mu.Lock()
	defer z.mu.Unlock()
	for _, k := range order {
		if err := z.checkCNAMELocked(k, sets); err != nil {
			return err
		}
	}
	for _, k := range order {
		z.rrsets[k] = sets[k]
	}
	return nil
}

// checkCNAMELocked refuses a CNAME beside other data at the same name, in the
// zone as it would be after the change.
func (z *Zone) checkCNAMELocked(k rrKey, pending map[rrKey][]dns.RR) error {
	for other := range z.rrsets {
		if _, replaced := pending[other]; replaced {
			continue
		}
		if other.name == k.name && other.rtype != k.rtype && (other.rtype == dns.TypeCNAME || k.rtype == dns.TypeCNAME) {
			return fmt.Errorf("%s %s beside %s: %w", k.name, dns.TypeToString[k.rtype], dns.TypeToString[other.rtype], ErrInvalidRecord)
		}
	}
	for other := range pending {
		if other.name == k.name && other.rtype != k.rtype && (other.rtype == dns.TypeCNAME || k.rtype == dns.TypeCNAME) {
			return fmt.Errorf("%s %s beside %s: %w", k.name, dns.TypeToString[k.rtype], dns.TypeToString[other.rtype], ErrInvalidRecord)
		}
	}
	return nil
}

// Delete removes the record set of the given name and type, if present.
func (z *Zone) Delete(name, rrtype string) error {
	fqdn, err := z.qualify(name)
	if err != nil {
		return err
	}
	t, ok := dns.StringToType[strings.ToUpper(rrtype)]
	if !ok {
		return fmt.Errorf("record type %q: %w", rrtype, ErrInvalidRecord)
	}
	z.mu.Lock()
	defer z.mu.Unlock()
	delete(z.rrsets, rrKey{name: fqdn, rtype: t})
	return nil
}

// Records returns the zone's content, sorted by name and type.
func (z *Zone) Records() []Record {
	z.mu.RLock()
	defer z.mu.RUnlock()
	var out []Record
	for _, set := range z.rrsets {
		for _, rr := range set {
			h := rr.Header()
			out = append(out, Record{
				Name: h.Name,
				Type: dns.TypeToString[h.Rrtype],
				TTL:  h.Ttl,
				Data: strings.TrimPrefix(rr.String(), h.String()),
			})
		}
	}
	slices.SortFunc(out, func(a, b Record) int {
		return cmp.Or(cmp.Compare(a.Name, b.Name), cmp.Compare(a.Type, b.Type), cmp.Compare(a.Data, b.Data))
	})
	return out
}

func (z *Zone) qualify(name string) (string, error) {
	switch {
	case name == "@" || name == "":
		return z.origin, nil
	case !strings.HasSuffix(name, "."):
		name = name + "." + z.origin
	}
	name = dns.CanonicalName(name)
	if _, ok := dns.IsDomainName(name); !ok || !dns.IsSubDomain(z.origin, name) {
		return "", fmt.Errorf("name %q is not in zone %s: %w", name, z.origin, ErrInvalidRecord)
	}
	return name, nil
}

func (z *Zone) parse(rec Record) (dns.RR, error) {
	name, err := z.qualify(rec.Name)
	if err != nil {
		return nil, err
	}
	t, ok := dns.StringToType[strings.ToUpper(rec.Type)]
	if !ok {
		return nil, fmt.Errorf("%s: record type %q: %w", name, rec.Type, ErrInvalidRecord)
	}
	ttl := rec.TTL
	if ttl == 0 {
		ttl = defaultTTL
	}
	text := fmt.Sprintf("%s %d IN %s %s", name, ttl, dns.TypeToString[t], rec.Data)
	rr, err := dns.NewRR(text)
	if err != nil {
		return nil, fmt.Errorf("%s %s %q: %w: %w", name, rec.Type, rec.Data, ErrInvalidRecord, err)
	}
	if rr == nil || rr.Header().Rrtype != t {
		return nil, fmt.Errorf("%s %s %q: %w", name, rec.Type, rec.Data, ErrInvalidRecord)
	}
	rr.Header().Name = name
	return rr, nil
}

// lookup returns the record set for name and type.
func (z *Zone) lookup(name string, t uint16) []dns.RR {
	z.mu.RLock()
	defer z.mu.RUnlock()
	return slices.Clone(z.rrsets[rrKey{name: name, rtype: t}])
}

// nameExists reports whether name owns records or is an ancestor of a name
// that does (an empty non-terminal, which answers NODATA, not NXDOMAIN).
func (z *Zone) nameExists(name string) bool {
	z.mu.RLock()
	defer z.mu.RUnlock()
	for k := range z.rrsets {
		if k.name == name || strings.HasSuffix(k.name, "."+name) {
			return true
		}
	}
	return false
}

// allAt returns every record owned by name (for ANY queries).
func (z *Zone) allAt(name string) []dns.RR {
	z.mu.RLock()
	defer z.mu.RUnlock()
	var out []dns.RR
	for k, set := range z.rrsets {
		if k.name == name {
			out = append(out, set...)
		}
	}
	return out
}

// ServeDNS answers authoritatively for the zone: data, CNAME chains inside
// the zone, NODATA and NXDOMAIN with the SOA in the authority section, and
// REFUSED for names outside it.
func (z *Zone) ServeDNS(w dns.ResponseWriter, req *dns.Msg) {
	m := new(dns.Msg)
	m.SetReply(req)
	if len(req.Question) != 1 {
		m.SetRcode(req, dns.RcodeFormatError)
		_ = w.WriteMsg(m)
		return
	}
	q := req.Question[0]
	qname := dns.CanonicalName(q.Name)
	if q.Qclass != dns.ClassINET || !dns.IsSubDomain(z.origin, qname) {
		m.SetRcode(req, dns.RcodeRefused)
		_ = w.WriteMsg(m)
		return
	}
	m.Authoritative = true
	z.answer(m, qname, q.Qtype)

	size := dns.MinMsgSize
	if opt := req.IsEdns0(); opt != nil {
		size = int(max(opt.UDPSize(), dns.MinMsgSize))
		m.SetEdns0(uint16(size), false)
	}
	if _, udp := w.RemoteAddr().(*net.UDPAddr); udp {
		m.Truncate(size)
	}
	_ = w.WriteMsg(m)
}

func (z *Zone) answer(m *dns.Msg, name string, qtype uint16) {
	for range maxCNAMEChain {
		if qtype == dns.TypeANY {
			if rrs := z.allAt(name); len(rrs) > 0 {
				m.Answer = append(m.Answer, rrs...)
				return
			}
			break
		}
		if rrs := z.lookup(name, qtype); len(rrs) > 0 {
			m.Answer = append(m.Answer, rrs...)
			return
		}
		cname := z.lookup(name, dns.TypeCNAME)
		if len(cname) == 0 {
			break
		}
		rr, ok := cname[0].(*dns.CNAME)
		if !ok {
			break
		}
		m.Answer = append(m.Answer, cname...)
		target := dns.CanonicalName(rr.Target)
		if !dns.IsSubDomain(z.origin, target) {
			return // the resolver chases targets outside the zone
		}
		name = target
	}
	// No data at the (final) name: NODATA, or NXDOMAIN when the name does not
	// exist at all; either way the SOA goes in the authority section.
	if !z.nameExists(name) {
		m.Rcode = dns.RcodeNameError
	}
	m.Ns = append(m.Ns, z.lookup(z.origin, dns.TypeSOA)...)
}

// dnsServer serves a Zone over UDP and TCP on one port.
type dnsServer struct {
	addr string
	udp  *dns.Server
	tcp  *dns.Server
	wg   sync.WaitGroup
}

// startDNS listens on host (a loopback IP) on a port free for both UDP and
// TCP and serves zone until shutdown.
func startDNS(host string, zone *Zone) (*dnsServer, error) {
	pc, ln, err := listenUDPAndTCP(host)
	if err != nil {
		return nil, err
	}
	s := &dnsServer{addr: ln.Addr().String()}
	udpUp, tcpUp := make(chan struct{}), make(chan struct{})
	s.udp = &dns.Server{PacketConn: pc, Handler: zone, NotifyStartedFunc: func() { close(udpUp) }}
	s.tcp = &dns.Server{Listener: ln, Handler: zone, NotifyStartedFunc: func() { close(tcpUp) }}
	errc := make(chan error, 2)
	for _, srv := range []*dns.Server{s.udp, s.tcp} {
		s.wg.Go(func() {
			if err := srv.ActivateAndServe(); err != nil {
				errc <- err
			}
		})
	}
	for _, up := range []chan struct{}{udpUp, tcpUp} {
		select {
		case <-up:
		case err := <-errc:
			_ = pc.Close()
			_ = ln.Close()
			s.wg.Wait()
			return nil, fmt.Errorf("serve DNS on %s: %w", s.addr, err)
		}
	}
	return s, nil
}

// shutdown stops both servers and waits for them.
func (s *dnsServer) shutdown(ctx context.Context) error {
	err := errors.Join(s.udp.ShutdownContext(ctx), s.tcp.ShutdownContext(ctx))
	s.wg.Wait()
	if err != nil {
		return fmt.Errorf("shut down DNS server %s: %w", s.addr, err)
	}
	return nil
}

// listenUDPAndTCP finds a port on host free for both UDP and TCP: it takes a
// free UDP port and tries its TCP twin, retrying when the twin is taken.
func listenUDPAndTCP(host string) (net.PacketConn, net.Listener, error) {
	var lastErr error
	for range portAttempts {
		pc, err := net.ListenPacket("udp", net.JoinHostPort(host, "0"))
		if err != nil {
			return nil, nil, fmt.Errorf("listen DNS on %s/udp: %w", host, err)
		}
		port := pc.LocalAddr().(*net.UDPAddr).Port
		ln, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(port)))
		if err == nil {
			return pc, ln, nil
		}
		lastErr = err
		_ = pc.Close()
	}
	return nil, nil, fmt.Errorf("no port on %s free for both UDP and TCP after %d attempts: %w", host, portAttempts, lastErr)
}
