package probes

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

// APIClient is the HTTP side of what speaks a JSON API — the alertmanager
// probe, the silence action: a base URL, credentials that go to the
// server's own host only and never appear in an error, verified TLS,
// answers bounded.
type APIClient struct {
	base   *url.URL
	auth   apiAuth
	client *http.Client
}

// APIClientOptions configure an APIClient.
type APIClientOptions struct {
	// URL is the API's base URL, with any path prefix.
	URL string
	// BearerToken or BasicAuth authenticate; they go to the server's own
	// host only.
	BearerToken string
	BasicAuth   *BasicAuth
	// Headers go with every request to the server's host (X-Scope-OrgID…).
	Headers map[string]string
	// Timeout bounds each request (10s when 0).
	Timeout time.Duration
	// Insecure, CACert and ServerName configure TLS as ClientTLS does.
	Insecure   bool
	CACert     string
	ServerName string
}

// NewAPIClient returns a client of the API at opts.URL.
func NewAPIClient(opts APIClientOptions) (*APIClient, error) {
	raw, headers, timeout := opts.URL, maps.Clone(opts.Headers), opts.Timeout
	base, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("url %q: cannot parse it", RedactURL(raw))
	}
	transport, err := apiTransport(opts.Insecure, opts.CACert, opts.ServerName)
	if err != nil {
		return nil, err
	}
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	c := &APIClient{base: base, auth: apiAuth{token: opts.BearerToken, basic: opts.BasicAuth, headers: headers}}
	c.client = &http.Client{
		Transport: transport,
		Timeout:   timeout,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			// Credentials never follow a redirect to another host: neither
			// the sensitive headers nor the runbook's own.
			if req.URL.Host != c.base.Host {
				for _, k := range sensitiveHeaders {
					req.Header.Del(k)
				}
				for k := range headers {
					req.Header.Del(k)
				}
			}
			if len(via) >= maxRedirects {
				return fmt.Errorf("stopped after %d redirects", maxRedirects)
			}
			return nil
		},
	}
	return c, nil
}

// Timeout is the bound of each request.
func (c *APIClient) Timeout() time.Duration { return c.client.Timeout }

// Endpoint returns the redacted URL of path, for messages.
func (c *APIClient) Endpoint(path string) string {
	return RedactURL(c.base.JoinPath(path).String())
}

// HTTPError is an answer other than 2xx: its status and (bounded) body.
type HTTPError struct {
	Method, URL string // URL redacted
	Code        int
	Status      string
	Body        []byte
}

func (e *HTTPError) Error() string { return e.Method + " " + e.URL + ": " + e.Status }

// Do sends method to path (relative to the base URL) with query and, when
// in is not nil, in as a JSON body, and returns the body of a 2xx answer
// (at most maxAPIBody). Another answer is an *HTTPError; a failure to
// send or read is "METHOD URL: cause", the cause without *url.Error's
// repetition of the URL.
func (c *APIClient) Do(ctx context.Context, method, path string, query url.Values, in any) ([]byte, error) {
	where := method + " " + c.Endpoint(path)
	u := c.base.JoinPath(path)
	u.RawQuery = query.Encode()
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return nil, fmt.Errorf("%s: encode: %w", where, err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), body)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", where, err)
	}
	req.Header.Set("Accept", "application/json")
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	c.auth.apply(req, true)
	resp, err := c.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", where, UnwrapURLError(err))
	}
	defer func() { _ = resp.Body.Close() }()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxAPIBody))
	if err != nil {
		return nil, fmt.Errorf("%s: reading the answer: %w", where, err)
	}
	if resp.StatusCode/100 != 2 {
		return nil, &HTTPError{Method: method, URL: c.Endpoint(path), Code: resp.StatusCode, Status: resp.Status, Body: data}
	}
	return data, nil
}

// BasicAuth is an HTTP basic-auth pair. The password is never shown.
type BasicAuth struct {
	Username string `json:"username" yaml:"username"`
	Password string `json:"password" yaml:"password"`
}

// maxAPIBody bounds how much of an API response a probe reads.
const maxAPIBody = 16 << 20

// validateAPIAccess checks the fields the prometheus and alertmanager
// probes share.
func validateAPIAccess(token string, basic *BasicAuth, timeout Duration, insecure bool, caCert string) []error {
	var errs []error
	if token != "" && basic != nil {
		errs = append(errs, fieldErr("bearerToken", "bearerToken and basicAuth exclude each other"))
	}
	if basic != nil && basic.Username == "" {
		errs = append(errs, fieldErr("basicAuth.username", "required"))
	}
	if timeout < 0 {
		errs = append(errs, fieldErr("timeout", "must not be negative"))
	}
	if insecure && caCert != "" {
		errs = append(errs, fieldErr("insecure", "insecure and caCert exclude each other"))
	}
	return errs
}

// ErrBadResponse marks an answer that is not the API's documented shape.
var ErrBadResponse = errors.New("unexpected response")

// maxRedirects bounds the redirects an API request follows.
const maxRedirects = 5

// apiTransport is the HTTP transport of the prometheus and alertmanager
// probes: proxies from the environment, verified TLS.
func apiTransport(insecure bool, caCert, serverName string) (*http.Transport, error) {
	tlsCfg, err := ClientTLS(insecure, caCert, serverName)
	if err != nil {
		return nil, err
	}
	return &http.Transport{Proxy: http.ProxyFromEnvironment, TLSClientConfig: tlsCfg, ForceAttemptHTTP2: true}, nil
}

// apiAuth is what an API request carries besides the query: extra headers
// and credentials (a bearer token or basic auth, which win over an
// Authorization header).
type apiAuth struct {
	token   string
	basic   *BasicAuth
	headers map[string]string
}

// sensitiveHeaders are the headers that never go to another host.
var sensitiveHeaders = []string{"Authorization", "Proxy-Authorization", "Cookie", "Cookie2", "Www-Authenticate"}

// apply sets the headers and, when the request goes to the server's own
// host, the credentials; a request to another host (a redirect's target)
// carries no credentials nor any sensitive header.
func (a *apiAuth) apply(req *http.Request, ownHost bool) {
	for k, v := range a.headers {
		if ownHost || !slices.Contains(sensitiveHeaders, http.CanonicalHeaderKey(k)) {
			req.Header.Set(k, v)
		}
	}
	if !ownHost {
		for _, k := range sensitiveHeaders {
			req.Header.Del(k)
		}
		return
	}
	switch {
	case a.token != "":
		req.Header.Set("Authorization", "Bearer "+a.token)
	case a.basic != nil:
		req.SetBasicAuth(a.basic.Username, a.basic.Password)
	}
}

// FirstLine is the first line of s, trimmed and bounded to 200
// characters, for messages.
func FirstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	if r := []rune(s); len(r) > 200 {
		s = string(r[:200]) + "…"
	}
	return s
}
