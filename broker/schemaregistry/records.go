package schemaregistry

import (
	"encoding/json"
	"fmt"
)

// The record key types Confluent's Schema Registry writes to _schemas.
const (
	keySchema        = "SCHEMA"
	keyConfig        = "CONFIG"
	keyMode          = "MODE"
	keyDeleteSubject = "DELETE_SUBJECT"
	keyNoop          = "NOOP"
)

// recordKey is the JSON key of a _schemas record, as Confluent's registry
// writes it: {"keytype":"SCHEMA","subject":"s","version":1,"magic":1}.
// Subject is nil in the key of the global CONFIG and MODE records.
type recordKey struct {
	KeyType string  `json:"keytype"`
	Subject *string `json:"subject,omitempty"`
	Version int     `json:"version,omitempty"`
	Magic   int     `json:"magic"`
}

// Reference names another subject's version that a schema imports.
type Reference struct {
	Name    string `json:"name"`
	Subject string `json:"subject"`
	Version int    `json:"version"`
}

// schemaValue is the value of a SCHEMA record.
type schemaValue struct {
	Subject    string      `json:"subject"`
	Version    int         `json:"version"`
	ID         int         `json:"id"`
	SchemaType string      `json:"schemaType,omitempty"` // omitted for AVRO, as Confluent writes it
	References []Reference `json:"references,omitempty"`
	Schema     string      `json:"schema"`
	Deleted    bool        `json:"deleted"`
}

// configValue is the value of a CONFIG record.
type configValue struct {
	CompatibilityLevel string `json:"compatibilityLevel"`
}

// modeValue is the value of a MODE record.
type modeValue struct {
	Mode string `json:"mode"`
}

// deleteSubjectValue is the value of a DELETE_SUBJECT record: every version
// of Subject up to Version was soft-deleted.
type deleteSubjectValue struct {
	Subject string `json:"subject"`
	Version int    `json:"version"`
}

func schemaKey(subject string, version int) recordKey {
	return recordKey{KeyType: keySchema, Subject: &subject, Version: version, Magic: 1}
}

// subjectKey is the key of a CONFIG, MODE or DELETE_SUBJECT record; subject
// "" is the global one (a null subject).
func subjectKey(keyType, subject string) recordKey {
	k := recordKey{KeyType: keyType}
	if subject != "" {
		k.Subject = &subject
	}
	return k
}

func (k recordKey) marshal() []byte {
	b, err := json.Marshal(k)
	if err != nil {
		panic(fmt.Sprintf("schemaregistry: marshal key: %v", err)) // a struct of strings and ints
	}
	return b
}

func (k recordKey) subject() string {
	if k.Subject == nil {
		return ""
	}
	return *k.Subject
}
