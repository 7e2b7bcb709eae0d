package httpclient

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// refreshEarly is how long before its expiry a cached token is replaced
// (a fifth of its lifetime when that is shorter), so a request never leaves
// with a token about to expire.
const refreshEarly = 30 * time.Second

// tokenCache holds the OAuth2 client credentials token: fetched on first
// use, again shortly before it expires, and after invalidate (a 401).
type tokenCache struct {
	s    OAuthSettings
	http *http.Client

	mu        sync.Mutex
	tok       string
	refreshAt time.Time // zero: no expiry given
}

func (c *tokenCache) token(ctx context.Context) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.tok != "" && (c.refreshAt.IsZero() || time.Now().Before(c.refreshAt)) {
		return c.tok, nil
	}
	tok, ttl, err := c.fetch(ctx)
	if err != nil {
		return "", err
	}
	c.tok, c.refreshAt = tok, time.Time{}
	if ttl > 0 {
		c.refreshAt = time.Now().Add(ttl - min(refreshEarly, ttl/5))
	}
	return tok, nil
}

func (c *tokenCache) invalidate() {
	c.mu.Lock()
	c.tok = ""
	c.mu.Unlock()
}

// fetch asks the token endpoint for a token (RFC 6749 section 4.4). A
// refusal (4xx but 429) is an authError: retrying will not fix it.
func (c *tokenCache) fetch(ctx context.Context) (string, time.Duration, error) {
	form := url.Values{"grant_type": {"client_credentials"}}
	if c.s.Scope != "" {
		form.Set("scope", c.s.Scope)
	}
	if c.s.SecretInForm {
		form.Set("client_id", c.s.ClientID)
		form.Set("client_secret", c.s.ClientSecret)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.s.TokenURL, strings.NewReader(form.Encode()))
	if err != nil {
		return "", 0, &authError{fmt.Errorf("%s: %w", OAuthTokenURLConfig, err)}
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	if !c.s.SecretInForm {
		req.SetBasicAuth(url.QueryEscape(c.s.ClientID), url.QueryEscape(c.s.ClientSecret))
	}
	res, err := c.http.Do(req)
	if err != nil {
		return "", 0, fmt.Errorf("oauth2 token endpoint %s: %w", redact(c.s.TokenURL), err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	if err != nil {
		return "", 0, fmt.Errorf("oauth2 token endpoint %s: %w", redact(c.s.TokenURL), err)
	}
	if res.StatusCode != http.StatusOK {
		err := fmt.Errorf("oauth2 token endpoint %s answered %d: %s", redact(c.s.TokenURL), res.StatusCode, Snippet(body))
		if res.StatusCode >= 400 && res.StatusCode < 500 && res.StatusCode != http.StatusTooManyRequests {
			return "", 0, &authError{err}
		}
		return "", 0, err
	}
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		return "", 0, &authError{fmt.Errorf("oauth2 token endpoint %s: answer is not JSON: %w", redact(c.s.TokenURL), err)}
	}
	tok, _ := m[c.s.TokenProperty].(string)
	if tok == "" {
		return "", 0, &authError{fmt.Errorf("oauth2 token endpoint %s: no %q in the answer (%s)", redact(c.s.TokenURL), c.s.TokenProperty, OAuthTokenPropertyConfig)}
	}
	var ttl time.Duration
	if n, ok := m["expires_in"].(float64); ok && n > 0 {
		ttl = time.Duration(n * float64(time.Second))
	}
	return tok, ttl, nil
}
