package runbook

import (
	"bytes"
	"encoding/json"
	"regexp"
	"strings"
)

// Redactor removes secrets from text bound for the journal, a log or a
// screen: the runbook's ${env:…} values (of 4 characters or more: shorter
// ones would redact ordinary text), credentials written as "Bearer …" or
// "Basic …" or as an Authorization, Cookie or X-Api-Key value, and PEM
// private keys. A nil *Redactor removes the patterns only.
type Redactor struct {
	values *strings.Replacer
}

// NewRedactor returns the redactor of a runbook's secret values.
func NewRedactor(secrets []string) *Redactor {
	var pairs []string
	for _, s := range secrets {
		if len(s) >= 4 {
			pairs = append(pairs, s, Redacted)
		}
	}
	if len(pairs) == 0 {
		return &Redactor{}
	}
	return &Redactor{values: strings.NewReplacer(pairs...)}
}

// Redacted is what a secret is replaced with.
const Redacted = "[REDACTED]"

// String returns s with every secret replaced.
func (r *Redactor) String(s string) string {
	// A private key first: a header's value must not cut its BEGIN line.
	if strings.Contains(s, "PRIVATE KEY") {
		s = privateKeyPEM.ReplaceAllString(s, "[REDACTED PRIVATE KEY]")
	}
	// Headers before the values: a value redacted inside one would stop
	// the header's match at its bracket.
	s = headerLine.ReplaceAllString(s, "${1}${2}${3}"+Redacted)
	if r != nil && r.values != nil {
		s = r.values.Replace(s)
	}
	s = authHeader.ReplaceAllString(s, "${1}"+Redacted+"${3}")
	return authScheme.ReplaceAllString(s, "$1 "+Redacted)
}

// JSON redacts the string values of a JSON document, and the values of
// keys naming credentials (Authorization, Cookie…), leaving its numbers,
// keys and shape alone: a secret that looks like a number cannot corrupt
// it.
func (r *Redactor) JSON(data []byte) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	return json.Marshal(r.value(v))
}

func (r *Redactor) value(v any) any {
	switch v := v.(type) {
	case string:
		return r.String(v)
	case []any:
		for i := range v {
			v[i] = r.value(v[i])
		}
		return v
	case map[string]any:
		for k, x := range v {
			if _, isString := x.(string); isString && credentialKey.MatchString(k) {
				v[k] = Redacted
				continue
			}
			v[k] = r.value(x)
		}
		return v
	}
	return v
}

// credentialKey names the headers whose values are credentials.
var credentialKey = regexp.MustCompile(`(?i)^(authorization|proxy-authorization|cookie|set-cookie|x-api-key)$`)

// authHeader matches Authorization/Cookie header values written as JSON
// inside text (a message quoting a request), quotes escaped or not.
var authHeader = regexp.MustCompile(`(?i)(\\?"(?:authorization|proxy-authorization|cookie|set-cookie|x-api-key)\\?"\s*:\s*\\?")((?:[^"\\]|\\[^"])*)(\\?")`)

// headerLine matches a credential header written as HTTP writes it in
// text ("Cookie: a=b; c=d"): its value up to the end of the line, a quote,
// a bracket or a comma — so a header inside YAML or JSON (quoted, or in a
// flow mapping) keeps the document's shape.
// A name after a dot is a field path ("headers.Authorization: … not
// set"), not a header.
var headerLine = regexp.MustCompile(`(?i)(^|[\s{(,;])((?:proxy-)?authorization|set-cookie|cookie|x-api-key)([ \t]*:[ \t]*)([^\s"'{}\[\],][^\r\n"'{}\[\],]*)`)

// authScheme matches credentials written as "Bearer …" or "Basic …".
var authScheme = regexp.MustCompile(`(?i)\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]{4,}`)

// privateKeyPEM matches a PEM private key block, or what is left of one
// cut short.
var privateKeyPEM = regexp.MustCompile(`-----BEGIN [A-Z ]*PRIVATE KEY-----(?s:.*?)(?:-----END [A-Z ]*PRIVATE KEY-----|$)`)
