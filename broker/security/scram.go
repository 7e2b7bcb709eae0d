package security

import (
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"os"
	"sort"
	"strings"
	"sync"
)

// SCRAM mechanisms, and Kafka's lower bound on iterations.
const (
	ScramSHA256   = "SCRAM-SHA-256"
	ScramSHA512   = "SCRAM-SHA-512"
	MinIterations = 4096
	maxIterations = 16384
)

// ScramMechanismID is the mechanism's number in the SCRAM admin APIs.
func ScramMechanismID(mech string) int8 {
	switch mech {
	case ScramSHA256:
		return 1
	case ScramSHA512:
		return 2
	}
	return 0
}

// ScramMechanismName is the inverse of ScramMechanismID ("" if unknown).
func ScramMechanismName(id int8) string {
	switch id {
	case 1:
		return ScramSHA256
	case 2:
		return ScramSHA512
	}
	return ""
}

func scramHash(mech string) func() hash.Hash {
	if mech == ScramSHA512 {
		return sha512.New
	}
	return sha256.New
}

// ScramCredential is what the broker keeps of a SCRAM password (RFC 5802):
// never the password itself.
type ScramCredential struct {
	Salt       []byte `json:"salt"`
	StoredKey  []byte `json:"stored_key"`
	ServerKey  []byte `json:"server_key"`
	Iterations int32  `json:"iterations"`
}

// NewScramCredential derives a credential from a salted password, as
// AlterUserScramCredentials delivers it.
func NewScramCredential(mech string, salt, salted []byte, iterations int32) ScramCredential {
	h := scramHash(mech)
	ck := hmacSum(h, salted, []byte("Client Key"))
	sum := h()
	sum.Write(ck)
	return ScramCredential{
		Salt:       salt,
		StoredKey:  sum.Sum(nil),
		ServerKey:  hmacSum(h, salted, []byte("Server Key")),
		Iterations: iterations,
	}
}

// ScramCredentialFromPassword salts and derives a password (tests, and
// bootstrap users).
func ScramCredentialFromPassword(mech, password string, iterations int32) (ScramCredential, error) {
	salt := make([]byte, 24)
	if _, err := rand.Read(salt); err != nil {
		return ScramCredential{}, err
	}
	salted, err := pbkdf2.Key(scramHash(mech), password, salt, int(iterations), scramHash(mech)().Size())
	if err != nil {
		return ScramCredential{}, err
	}
	return NewScramCredential(mech, salt, salted, iterations), nil
}

func hmacSum(h func() hash.Hash, key, msg []byte) []byte {
	m := hmac.New(h, key)
	m.Write(msg)
	return m.Sum(nil)
}

// ScramStore holds SCRAM credentials by user and mechanism, persisted in
// one JSON file rewritten atomically (with fsync) on every change.
type ScramStore struct {
	path  string
	write func(path string, data []byte) error
	mu    sync.RWMutex
	users map[string]map[string]ScramCredential
}

// OpenScramStore loads path (absent: empty). write must replace the file
// atomically and durably.
func OpenScramStore(path string, write func(string, []byte) error) (*ScramStore, error) {
	s := &ScramStore{path: path, write: write, users: map[string]map[string]ScramCredential{}}
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return s, nil
	}
	if err != nil {
		return nil, fmt.Errorf("scram credentials: %w", err)
	}
	if err := json.Unmarshal(b, &s.users); err != nil {
		return nil, fmt.Errorf("scram credentials %s: %w", path, err)
	}
	return s, nil
}

// Get returns the credential of user for mech.
func (s *ScramStore) Get(user, mech string) (ScramCredential, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	c, ok := s.users[user][mech]
	return c, ok
}

// ScramChange is one upsertion (Cred set) or deletion.
type ScramChange struct {
	User, Mechanism string
	Cred            *ScramCredential
}

// Apply makes changes and persists them in one write; on a write error
// nothing changes.
func (s *ScramStore) Apply(changes []ScramChange) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	next := make(map[string]map[string]ScramCredential, len(s.users))
	for u, m := range s.users {
		next[u] = map[string]ScramCredential{}
		for k, v := range m {
			next[u][k] = v
		}
	}
	for _, c := range changes {
		if c.Cred == nil {
			delete(next[c.User], c.Mechanism)
			if len(next[c.User]) == 0 {
				delete(next, c.User)
			}
			continue
		}
		if next[c.User] == nil {
			next[c.User] = map[string]ScramCredential{}
		}
		next[c.User][c.Mechanism] = *c.Cred
	}
	b, err := json.MarshalIndent(next, "", "  ")
	if err != nil {
		return err
	}
	if err := s.write(s.path, b); err != nil {
		return fmt.Errorf("scram credentials: %w", err)
	}
	s.users = next
	return nil
}

// Describe lists users (all when names is empty) with their mechanisms and
// iteration counts, sorted.
func (s *ScramStore) Describe(user string) map[string]int32 {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := map[string]int32{}
	for m, c := range s.users[user] {
		out[m] = c.Iterations
	}
	return out
}

// Users lists every user with a credential, sorted.
func (s *ScramStore) Users() []string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]string, 0, len(s.users))
	for u := range s.users {
		out = append(out, u)
	}
	sort.Strings(out)
	return out
}

// scramServer runs the server side of one SCRAM exchange.
type scramServer struct {
	mech        string
	store       *ScramStore
	step        int
	user        string
	cred        ScramCredential
	nonce       string
	cnonce      string
	clientFirst string // bare
	serverFirst string
}

// scramStep consumes one client message and returns the server's answer;
// done is set with the server-final message.
func (x *scramServer) next(msg []byte) (resp []byte, done bool, err error) {
	switch x.step {
	case 0:
		x.step++
		s := string(msg)
		// gs2 header: "n,," or "n,a=authzid,"; channel binding is not offered.
		if !strings.HasPrefix(s, "n,") && !strings.HasPrefix(s, "y,") {
			return nil, false, errors.New("SCRAM: channel binding is not supported")
		}
		parts := strings.SplitN(s, ",", 3)
		if len(parts) != 3 {
			return nil, false, errors.New("SCRAM: malformed client-first message")
		}
		x.clientFirst = parts[2]
		var cnonce string
		for _, a := range strings.Split(x.clientFirst, ",") {
			switch {
			case strings.HasPrefix(a, "n="):
				x.user = strings.NewReplacer("=2C", ",", "=3D", "=").Replace(a[2:])
			case strings.HasPrefix(a, "r="):
				cnonce = a[2:]
			}
		}
		if x.user == "" || cnonce == "" {
			return nil, false, errors.New("SCRAM: client-first message without user or nonce")
		}
		cred, ok := x.store.Get(x.user, x.mech)
		if !ok {
			return nil, false, fmt.Errorf("invalid credentials for user %s with SASL mechanism %s", x.user, x.mech)
		}
		x.cred = cred
		var sn [18]byte
		rand.Read(sn[:])
		x.cnonce = cnonce
		x.nonce = cnonce + hex.EncodeToString(sn[:])
		x.serverFirst = fmt.Sprintf("r=%s,s=%s,i=%d", x.nonce, base64.StdEncoding.EncodeToString(cred.Salt), cred.Iterations)
		return []byte(x.serverFirst), false, nil
	case 1:
		x.step++
		s := string(msg)
		i := strings.LastIndex(s, ",p=")
		if i < 0 {
			return nil, false, errors.New("SCRAM: client-final message without proof")
		}
		withoutProof := s[:i]
		proof, err := base64.StdEncoding.DecodeString(s[i+3:])
		if err != nil {
			return nil, false, errors.New("SCRAM: malformed proof")
		}
		var nonce string
		for _, a := range strings.Split(withoutProof, ",") {
			if strings.HasPrefix(a, "r=") {
				nonce = a[2:]
			}
		}
		// librdkafka's builtin SCRAM repeats its client nonce in front of
		// the combined one; both forms carry our server nonce, which is
		// what protects against replay.
		if nonce != x.nonce && nonce != x.cnonce+x.nonce {
			return nil, false, errors.New("SCRAM: nonce mismatch")
		}
		h := scramHash(x.mech)
		auth := []byte(x.clientFirst + "," + x.serverFirst + "," + withoutProof)
		sig := hmacSum(h, x.cred.StoredKey, auth)
		if len(proof) != len(sig) {
			return nil, false, fmt.Errorf("invalid credentials for user %s with SASL mechanism %s", x.user, x.mech)
		}
		ck := make([]byte, len(sig))
		for j := range sig {
			ck[j] = proof[j] ^ sig[j]
		}
		sum := h()
		sum.Write(ck)
		if !hmac.Equal(sum.Sum(nil), x.cred.StoredKey) {
			return nil, false, fmt.Errorf("invalid credentials for user %s with SASL mechanism %s", x.user, x.mech)
		}
		return []byte("v=" + base64.StdEncoding.EncodeToString(hmacSum(h, x.cred.ServerKey, auth))), true, nil
	}
	return nil, false, errors.New("SCRAM: unexpected message")
}
