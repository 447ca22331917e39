package probes

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
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

// NewAPIClient returns a client of the API at raw. token (a bearer token)
// or basic authenticate; headers go with every request to the server's
// host; timeout bounds each request (10s when 0); insecure, caCert and
// serverName configure TLS as ClientTLS does.
func NewAPIClient(raw, token string, basic *BasicAuth, headers map[string]string, timeout time.Duration, insecure bool, caCert, serverName string) (*APIClient, error) {
	base, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("url %q: cannot parse it", RedactURL(raw))
	}
	transport, err := apiTransport(insecure, caCert, serverName)
	if err != nil {
		return nil, err
	}
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	c := &APIClient{base: base, auth: apiAuth{token: token, basic: basic, headers: headers}}
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

// get fetches path with query and decodes the JSON answer into out, as
// the alertmanager probe reads: 401 and 403 are a *ForbiddenError; another
// non-2xx status is an *APIError carrying the server's message (and type,
// from a Prometheus error envelope).
func (c *APIClient) get(ctx context.Context, path string, query url.Values, out any) error {
	body, err := c.Do(ctx, http.MethodGet, path, query, nil)
	var he *HTTPError
	switch {
	case errors.As(err, &he) && (he.Code == http.StatusUnauthorized || he.Code == http.StatusForbidden):
		return &ForbiddenError{Verb: "get", Resource: he.URL + " (" + he.Status + ")"}
	case he != nil:
		if env, ok := errorEnvelope(he.Body); ok {
			return &APIError{Type: env.ErrorType, Status: he.Status, Msg: env.Error}
		}
		return &APIError{Status: he.Status, Msg: firstLine(string(he.Body))}
	case err != nil:
		return err
	}
	if err := json.Unmarshal(body, out); err != nil {
		return fmt.Errorf("GET %s: %w: %w", c.Endpoint(path), ErrBadResponse, err)
	}
	return nil
}
