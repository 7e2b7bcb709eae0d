package webhook

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"strconv"
	"strings"
	"time"
)

// sign returns the hex HMAC of the parts, keyed with the secret.
func (s *settings) sign(parts ...[]byte) string {
	var h func() hash.Hash
	switch s.hmacAlgo {
	case "SHA1":
		h = sha1.New
	case "SHA512":
		h = sha512.New
	default:
		h = sha256.New
	}
	m := hmac.New(h, []byte(s.hmacSecret))
	for _, p := range parts {
		m.Write(p)
	}
	return hex.EncodeToString(m.Sum(nil))
}

// verifySignature checks the signature header of a body: GitHub's style
// (prefix + hex HMAC of the body) or Stripe's (t=<time>,v1=<hex HMAC of
// "<time>.<body>">, the time within the tolerance).
func (s *settings) verifySignature(header string, body []byte, now time.Time) error {
	if header == "" {
		return fmt.Errorf("no %s header", s.hmacHeader)
	}
	if s.hmacStyle != StyleStripe {
		got, ok := strings.CutPrefix(header, s.hmacPrefix)
		if !ok || !hmac.Equal([]byte(strings.ToLower(got)), []byte(s.sign(body))) {
			return errors.New("the signature does not match the body")
		}
		return nil
	}
	var ts string
	var sigs []string
	for _, item := range strings.Split(header, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(item), "=")
		switch k {
		case "t":
			ts = v
		case "v1":
			sigs = append(sigs, v)
		}
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return errors.New("no t=<unix time> in the signature header")
	}
	if d := now.Sub(time.Unix(sec, 0)).Abs(); s.hmacTolerance > 0 && d > s.hmacTolerance {
		return fmt.Errorf("the signed time is %v away, more than %s allows", d.Round(time.Second), HMACToleranceConfig)
	}
	want := []byte(s.sign([]byte(ts), []byte("."), body))
	for _, sig := range sigs {
		if hmac.Equal([]byte(strings.ToLower(sig)), want) {
			return nil
		}
	}
	return errors.New("no v1 signature matches the body")
}
