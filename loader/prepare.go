package loader

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
)

// prepared is everything Run derives from the configuration before the
// first request: requests serialised once, endpoints, the weighted order.
type prepared struct {
	reqs      []*preparedRequest
	endpoints []*endpoint
	order     []int // request indexes in smooth weighted round-robin order
	client    ClientKind
	tls       *tls.Config
	std       *stdShared // the shared net/http client, for ClientNetHTTP
}

// endpoint is one scheme://host:port that requests go to; the h1 client
// keeps one connection per VU and endpoint.
type endpoint struct {
	tls     bool
	host    string // host name or IP, without brackets
	port    string
	ip      net.IP // set when host is an IP literal: no DNS lookup
	tlsConf *tls.Config
}

// preparedRequest is a request ready to send, shared read-only by all VUs.
type preparedRequest struct {
	idx      int
	name     string
	method   string
	url      *url.URL
	endpoint int
	wire     []byte // the HTTP/1.1 request, head and body
	host     string // Host header value
	header   http.Header
	body     []byte
	noBody   bool // HEAD: the response has no body
	retry    bool // idempotent: may be retried once on a stale keep-alive connection
	checks   Checks
	nChecks  int
	capture  bool     // a check reads the body
	jsonWant [][]byte // JSON encoding of each JSONCheck.Equals
}

// maxCapture bounds the body kept for checks; the rest is read and dropped.
const maxCapture = 1 << 20

func prepare(cfg Config) (*prepared, error) {
	p := &prepared{client: cfg.Client}
	if p.client == ClientAuto {
		p.client = ClientH1
		if cfg.HTTP2 {
			p.client = ClientNetHTTP
		}
	}
	p.tls = &tls.Config{
		MinVersion:         tls.VersionTLS12,
		RootCAs:            cfg.RootCAs,
		InsecureSkipVerify: cfg.Insecure, //nolint:gosec // opt-in with --insecure
		ClientSessionCache: tls.NewLRUClientSessionCache(256),
	}
	eps := map[string]int{}
	for i, r := range cfg.Requests {
		u, err := url.Parse(r.URL)
		if err != nil {
			return nil, &FieldError{Path: fmt.Sprintf("requests[%d].url", i), Err: err}
		}
		pr := &preparedRequest{
			idx: i, name: r.Name, method: r.Method, url: u, body: r.Body,
			checks: r.Checks, nChecks: r.Checks.count(),
			noBody: r.Method == http.MethodHead,
			retry:  isIdempotent(r.Method),
		}
		pr.capture = r.Checks.BodyContains != "" || len(r.Checks.JSON) > 0
		for j, jc := range r.Checks.JSON {
			want, err := json.Marshal(jc.Equals)
			if err != nil {
				return nil, &FieldError{Path: fmt.Sprintf("requests[%d].checks.json[%d].equals", i, j), Err: err}
			}
			pr.jsonWant = append(pr.jsonWant, canonicalJSON(want))
		}
		key := u.Scheme + "://" + u.Host
		idx, ok := eps[key]
		if !ok {
			ep := &endpoint{tls: u.Scheme == "https", host: u.Hostname(), port: u.Port()}
			if ep.port == "" {
				ep.port = "80"
				if ep.tls {
					ep.port = "443"
				}
			}
			ep.ip = net.ParseIP(ep.host)
			if ep.tls {
				c := p.tls.Clone()
				c.ServerName = ep.host
				c.NextProtos = []string{"http/1.1"}
				ep.tlsConf = c
			}
			idx = len(p.endpoints)
			eps[key] = idx
			p.endpoints = append(p.endpoints, ep)
		}
		pr.endpoint = idx
		pr.header = r.Header.Clone()
		if pr.header == nil {
			pr.header = http.Header{}
		}
		pr.host = u.Host
		if h := pr.header.Get("Host"); h != "" {
			pr.host = h
			pr.header.Del("Host")
		}
		if pr.header.Get("User-Agent") == "" {
			pr.header.Set("User-Agent", cfg.UserAgent)
		}
		pr.wire = serialize(pr)
		p.reqs = append(p.reqs, pr)
	}
	weights := make([]int, len(cfg.Requests))
	for i, r := range cfg.Requests {
		weights[i] = r.Weight
	}
	p.order = weightedOrder(weights)
	if p.client == ClientNetHTTP {
		p.std = newStdShared(cfg, p.tls)
	}
	return p, nil
}

func isIdempotent(m string) bool {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace, http.MethodPut, http.MethodDelete:
		return true
	}
	return false
}

// serialize renders the HTTP/1.1 request once; the h1 client writes these
// bytes as they are for every iteration.
func serialize(pr *preparedRequest) []byte {
	var b bytes.Buffer
	b.WriteString(pr.method)
	b.WriteByte(' ')
	b.WriteString(pr.url.RequestURI())
	b.WriteString(" HTTP/1.1\r\nHost: ")
	b.WriteString(pr.host)
	b.WriteString("\r\n")
	names := make([]string, 0, len(pr.header))
	for n := range pr.header {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		for _, v := range pr.header[n] {
			b.WriteString(n)
			b.WriteString(": ")
			b.WriteString(v)
			b.WriteString("\r\n")
		}
	}
	if len(pr.body) > 0 || pr.method == http.MethodPost || pr.method == http.MethodPut || pr.method == http.MethodPatch {
		b.WriteString("Content-Length: ")
		b.WriteString(strconv.Itoa(len(pr.body)))
		b.WriteString("\r\n")
	}
	b.WriteString("\r\n")
	b.Write(pr.body)
	return b.Bytes()
}

// weightedOrder returns request indexes in smooth weighted round-robin
// order (nginx's): each appears weight times per cycle, spread out.
func weightedOrder(w []int) []int {
	total := 0
	for _, x := range w {
		total += x
	}
	cur := make([]int, len(w))
	out := make([]int, 0, total)
	for range total {
		best := -1
		for i, x := range w {
			cur[i] += x
			if best < 0 || cur[i] > cur[best] {
				best = i
			}
		}
		cur[best] -= total
		out = append(out, best)
	}
	return out
}

// judge runs the request's checks on a response and sets the final class.
func (pr *preparedRequest) judge(res *result, body []byte) {
	if pr.nChecks > 0 {
		if !res.gotResponse {
			res.checksFailed = uint16(pr.nChecks)
		} else {
			pass := func(ok bool) {
				if ok {
					res.checksPassed++
				} else {
					res.checksFailed++
				}
			}
			if len(pr.checks.Status) > 0 {
				ok := false
				for _, s := range pr.checks.Status {
					ok = ok || s == res.status
				}
				pass(ok)
			}
			if pr.checks.BodyContains != "" {
				pass(bytes.Contains(body, []byte(pr.checks.BodyContains)))
			}
			if len(pr.checks.JSON) > 0 {
				var doc any
				err := json.Unmarshal(body, &doc)
				for i, jc := range pr.checks.JSON {
					ok := false
					if err == nil {
						if v, found := jsonLookup(doc, jc.Path); found {
							got, _ := json.Marshal(v)
							ok = bytes.Equal(canonicalJSON(got), pr.jsonWant[i])
						}
					}
					pass(ok)
				}
			}
		}
	}
	if res.class != ClassNone {
		return
	}
	switch {
	case res.status >= 500:
		res.class = ClassHTTP5xx
	case res.status >= 400:
		res.class = ClassHTTP4xx
	case res.checksFailed > 0:
		res.class = ClassCheckFailed
	}
}

// jsonLookup walks a dot-separated path of keys and array indexes.
func jsonLookup(doc any, path string) (any, bool) {
	cur := doc
	for _, part := range strings.Split(path, ".") {
		switch v := cur.(type) {
		case map[string]any:
			next, ok := v[part]
			if !ok {
				return nil, false
			}
			cur = next
		case []any:
			i, err := strconv.Atoi(part)
			if err != nil || i < 0 || i >= len(v) {
				return nil, false
			}
			cur = v[i]
		default:
			return nil, false
		}
	}
	return cur, true
}

// canonicalJSON re-encodes JSON so 1 and 1.0 compare equal.
func canonicalJSON(b []byte) []byte {
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		return b
	}
	out, err := json.Marshal(v)
	if err != nil {
		return b
	}
	return out
}

// doer sends one prepared request for one VU. It fills the result's status,
// phases, bytes and class, and returns the body prefix when the request has
// body checks.
type doer interface {
	do(ctx context.Context, pr *preparedRequest, res *result) []byte
	close()
}
