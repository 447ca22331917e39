package probes

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
)

// Credentials and the runbook's headers go to the server's own host,
// also across its redirects, and never to another host a redirect names;
// an answer other than 2xx is an *HTTPError with the status and body.
func TestAPIClientRedirectsAndErrors(t *testing.T) {
	type seen struct{ auth, header string }
	other := make(chan seen, 1)
	elsewhere := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		other <- seen{r.Header.Get("Authorization"), r.Header.Get("X-Scope-OrgID")}
		_, _ = w.Write([]byte(`{}`))
	}))
	t.Cleanup(elsewhere.Close)
	own := make(chan seen, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/moved":
			http.Redirect(w, r, "/api", http.StatusFound)
		case "/away":
			http.Redirect(w, r, elsewhere.URL+"/api", http.StatusFound)
		case "/api":
			own <- seen{r.Header.Get("Authorization"), r.Header.Get("X-Scope-OrgID")}
			_, _ = w.Write([]byte(`{}`))
		default:
			http.Error(w, "no such thing", http.StatusNotFound)
		}
	}))
	t.Cleanup(srv.Close)
	c, err := NewAPIClient(APIClientOptions{URL: srv.URL, BearerToken: "t0ken-value", Headers: map[string]string{"X-Scope-OrgID": "tenant-1"}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := c.Do(ctx, http.MethodGet, "/moved", nil, nil); err != nil {
		t.Fatal(err)
	}
	if got := <-own; got.auth != "Bearer t0ken-value" || got.header != "tenant-1" {
		t.Errorf("same host after a redirect: %+v", got)
	}
	if _, err := c.Do(ctx, http.MethodGet, "/away", nil, nil); err != nil {
		t.Fatal(err)
	}
	if got := <-other; got.auth != "" || got.header != "" {
		t.Errorf("another host got the credentials: %+v", got)
	}
	_, err = c.Do(ctx, http.MethodGet, "/nothing", nil, nil)
	var he *HTTPError
	if !errors.As(err, &he) || he.Code != http.StatusNotFound || string(he.Body) != "no such thing\n" || he.Error() != "GET "+srv.URL+"/nothing: 404 Not Found" {
		t.Errorf("404: %v (%+v)", err, he)
	}
}
